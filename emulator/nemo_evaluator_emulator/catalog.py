"""Plausible metric sets for evaluation types, used when a config names no tasks or metrics.

The names follow the harnesses NeMo wraps (LM Evaluation Harness, BigCode, simple-evals,
retriever/RAG); the real service's score keys are only partly documented, so these are a
best guess (nemo-evaluator-api.md §13.6). All values are synthetic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ACADEMIC_TYPES", "Benchmark", "benchmark_for", "score_names_for_metric"]

Metrics = dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class Benchmark:
    """Tasks with their metrics and score names, a group over them, and a sample count."""

    tasks: dict[str, Metrics]
    samples: int
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    group_metrics: Metrics = field(default_factory=dict)
    scale: float = 1.0


def _single(task: str, metrics: Metrics, samples: int) -> Benchmark:
    return Benchmark(tasks={task: metrics}, samples=samples)


_ACC: Metrics = {"acc": ("acc",), "acc_norm": ("acc_norm",)}
_IFEVAL: Metrics = {
    name: (name,)
    for name in (
        "prompt_level_strict_acc",
        "inst_level_strict_acc",
        "prompt_level_loose_acc",
        "inst_level_loose_acc",
    )
}
_MMLU_TASKS = ("mmlu_stem", "mmlu_humanities", "mmlu_social_sciences", "mmlu_other")
_RETRIEVER: Metrics = {"evaluation": ("recall_5", "ndcg_cut_5", "recall_10", "ndcg_cut_10")}
_RAG: Metrics = {
    "evaluation": (
        "recall_5",
        "ndcg_cut_5",
        "faithfulness",
        "answer_relevancy",
        "context_precision",
    ),
}

_CATALOG: dict[str, Benchmark] = {
    "mmlu": Benchmark(
        tasks={t: {"acc": ("acc",)} for t in _MMLU_TASKS},
        samples=14042,
        groups={"mmlu": _MMLU_TASKS},
    ),
    "gsm8k": _single("gsm8k", {"exact_match": ("strict-match", "flexible-extract")}, 1319),
    "ifeval": _single("ifeval", _IFEVAL, 541),
    "humaneval": _single("humaneval", {"pass@1": ("pass@1",)}, 164),
    "humanevalplus": _single("humanevalplus", {"pass@1": ("pass@1",)}, 164),
    "mbpp": _single("mbpp", {"pass@1": ("pass@1",)}, 500),
    "mbppplus": _single("mbppplus", {"pass@1": ("pass@1",)}, 378),
    "hellaswag": _single("hellaswag", _ACC, 10042),
    "winogrande": _single("winogrande", _ACC, 1267),
    "arc_challenge": _single("arc_challenge", _ACC, 1172),
    "truthfulqa": _single("truthfulqa_mc2", {"acc": ("acc",)}, 817),
    "bbh": _single("bbh", {"exact_match": ("exact_match",)}, 6511),
    "gpqa_diamond_cot": _single("gpqa_diamond_cot", {"exact_match": ("exact_match",)}, 198),
    "bfclv3": _single("simple", {"accuracy": ("accuracy",)}, 400),
    "agentic": _single("agentic", {"agent_goal_accuracy": ("agent_goal_accuracy",)}, 50),
    "retriever": Benchmark(
        tasks={}, samples=100, groups={"evaluation": ()}, group_metrics=_RETRIEVER
    ),
    "rag": Benchmark(tasks={}, samples=100, groups={"evaluation": ()}, group_metrics=_RAG),
}

ACADEMIC_TYPES = frozenset(_CATALOG) - {"retriever", "rag", "agentic"}
"""What `--academic-types reject` refuses: the harness benchmarks, not custom/retriever/RAG."""

_METRIC_SCORES: dict[str, tuple[str, ...]] = {
    "bleu": ("sentence", "corpus"),
    "rouge": ("rouge_1_score", "rouge_2_score", "rouge_3_score", "rouge_L_score"),
    "string-check": ("string-check",),
    "f1": ("f1_score",),
    "em": ("em_score",),
    "tool-calling": ("function_name_accuracy", "function_name_and_args_accuracy"),
}


def benchmark_for(config_type: str) -> Benchmark:
    """The catalogue entry for a type, or a generic single-task accuracy benchmark."""
    found = _CATALOG.get(config_type)
    if found is not None:
        return found
    return _single(config_type, {"accuracy": ("accuracy",)}, 100)


def score_names_for_metric(
    metric_name: str, metric_type: str, params: dict[str, object]
) -> tuple[str, ...]:
    """Score keys a metric reports; llm-judge reports the scores its config names."""
    if metric_type == "llm-judge":
        scores = params.get("scores")
        if isinstance(scores, dict) and scores:
            return tuple(str(k) for k in scores)
        return ("score",)
    return _METRIC_SCORES.get(metric_type, (metric_name,))
