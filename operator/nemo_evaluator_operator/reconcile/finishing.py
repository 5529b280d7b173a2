"""A completed NeMo job: fetch results, write the ConfigMaps, judge the gate, finish."""

from __future__ import annotations

from ..constants import (
    LABEL_BENCHMARK,
    LABEL_EVALJOB,
    LABEL_MANAGED_BY,
    LABEL_RESULTS_PART,
    MANAGED_BY,
    Cond,
    Reason,
)
from ..evaluator.port import EvaluatorPort, JobObservation
from ..models import CriterionResult, EvalJob, EvalJobPhase, EvalJobStatus, ResultsRef
from .baseline import ThisRun
from .conditions import CondSpec, set_condition
from .evaljob_status import EventSpec, Transition, terminal_conditions
from .ports import ConfigMapSpec, KubePort
from .results import (
    RenderedResults,
    evaluate_criteria,
    headline,
    label_value,
    render_results,
    results_config_map_name,
    status_errors,
    status_scores,
    summary_table,
)

__all__ = ["build_config_maps", "finish_completed"]


async def finish_completed(
    ej: EvalJob,
    status: EvalJobStatus,
    job: JobObservation,
    evaluator: EvaluatorPort,
    kube: KubePort,
    now: str,
) -> Transition:
    """Results first, phase last: the EvalJob is Succeeded only once its results are stored."""
    rendered = render_results(await evaluator.results(job.ref))
    gate = await _judge(ej, status, rendered, kube)
    # The gate (with the baselines it used) is in the status even if writing the ConfigMaps
    # fails below, so the retry judges against the same baselines.
    status.gate = gate or None
    config_maps = build_config_maps(ej, str(job.ref), rendered, gate)
    owner = {
        "uid": ej.metadata.uid,
        "name": ej.metadata.name,
        "kind": ej.kind,
        "apiVersion": ej.api_version,
    }
    await kube.apply_results_configmaps(ej.metadata.namespace, owner, config_maps)
    status.results_ref = ResultsRef(
        config_map=config_maps[0].name,
        parts=[cm.name for cm in config_maps[1:]],
        size_bytes=len(rendered.text),
        sha256=rendered.sha256,
    )
    status.scores = status_scores(rendered.scores, ej.spec.pass_criteria) or None
    status.score_errors = status_errors(rendered.errors, status.scores or {}) or None
    status.headline_score = headline(rendered.scores, ej.spec.pass_criteria)
    return _judged(ej, status, gate, now)


async def _judge(
    ej: EvalJob, status: EvalJobStatus, rendered: RenderedResults, kube: KubePort
) -> list[CriterionResult]:
    """min/max criteria from the scores alone; baseline ones against the other runs as the
    engine's index holds them now (read only when a criterion needs them)."""
    criteria = ej.spec.pass_criteria
    me = ThisRun(
        uid=ej.metadata.uid,
        namespace=ej.metadata.namespace,
        benchmark=ej.spec.benchmark_ref.name,
        config_hash=status.config_hash,
        scores=rendered.scores,
        errors=rendered.errors,
    )
    needs_runs = any(c.baseline is not None for c in criteria)
    runs = await kube.evaljob_runs(ej.metadata.namespace) if needs_runs else []
    return evaluate_criteria(rendered.scores, criteria, me, runs, status.gate)


def _judged(
    ej: EvalJob, status: EvalJobStatus, gate: list[CriterionResult], now: str
) -> Transition:
    failed = [result for result in gate if not result.passed]
    generation = ej.metadata.generation
    if gate:
        passed = CondSpec(
            Cond.PASSED, "False" if failed else "True", _gate_reason(failed), _gate_message(gate)
        )
        status.conditions = set_condition(status.conditions, passed, generation, now)
    if failed:
        message = f"Results written; pass criteria failed: {_gate_message(failed)}"
        status = terminal_conditions(
            ej, status, EvalJobPhase.FAILED, _gate_reason(failed), message, now
        )
        return Transition(status, [EventSpec("Warning", EvalJobPhase.FAILED.value, message)])
    where = status.results_ref.config_map if status.results_ref else "?"
    message = f"NeMo job {status.job_id} succeeded; results written to ConfigMap {where}"
    status = terminal_conditions(ej, status, EvalJobPhase.SUCCEEDED, Reason.SUCCEEDED, message, now)
    return Transition(status, [EventSpec("Normal", EvalJobPhase.SUCCEEDED.value, message)])


def _gate_reason(failed: list[CriterionResult]) -> str:
    if not failed:
        return Reason.GATE_PASSED
    refused = next((result.reason for result in failed if result.reason), None)
    if refused is not None:
        return refused
    if any(result.value is None for result in failed):
        return Reason.METRIC_NOT_FOUND
    return Reason.GATE_FAILED


def _gate_message(results: list[CriterionResult]) -> str:
    return "; ".join(f"{r.metric}: {r.message}" for r in results)


def build_config_maps(
    ej: EvalJob, job_id: str, rendered: RenderedResults, gate: list[CriterionResult]
) -> list[ConfigMapSpec]:
    """The index ConfigMap `<name>-results` first, then numbered parts when the JSON is large."""
    labels = {
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_EVALJOB: label_value(ej.metadata.name),
        LABEL_BENCHMARK: label_value(ej.spec.benchmark_ref.name),
    }
    summary = summary_table(job_id, rendered.scores, gate, ej.status.evaluator_api)
    index_name = results_config_map_name(ej.metadata.name)
    if len(rendered.parts) == 1:
        data = {"results.json": rendered.text, "summary.txt": summary, "sha256": rendered.sha256}
        return [ConfigMapSpec(index_name, data, labels)]
    names = [
        results_config_map_name(ej.metadata.name, n) for n in range(1, len(rendered.parts) + 1)
    ]
    index = {
        "summary.txt": summary,
        "sha256": rendered.sha256,
        "parts": "\n".join(names) + "\n",
    }
    parts = [
        ConfigMapSpec(name, {"results.json.part": text}, {**labels, LABEL_RESULTS_PART: str(n)})
        for n, (name, text) in enumerate(zip(names, rendered.parts, strict=True), start=1)
    ]
    return [ConfigMapSpec(index_name, index, labels), *parts]
