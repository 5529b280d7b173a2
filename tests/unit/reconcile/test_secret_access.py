"""A Secret is used only when its own annotation names the EvalJob; otherwise nothing is sent."""

from __future__ import annotations

import pytest

from nemo_evaluator_operator.models import EvalJobPhase
from nemo_evaluator_operator.reconcile.evaljob import reconcile_evaljob
from nemo_evaluator_operator.reconcile.secret_access import allows, not_allowed_message

from .test_evaljob import API_KEY, conditions, ctx, evaljob, world

ANNOTATION = "evaluator.nemo.dev/allowed-evaljobs"


@pytest.mark.parametrize(
    ("annotation", "name", "allowed"),
    [
        (None, "ej", False),
        ("", "ej", False),
        (" , ", "ej", False),
        ("*", "ej", True),
        ("ej", "ej", True),
        ("other, ej ", "ej", True),
        ("ej-*", "ej-nightly", True),
        ("ej-*", "ej", False),
        ("EJ", "ej", False),  # names are case-sensitive, as Kubernetes names are
        ("e?", "ej", True),
    ],
)
def test_allows_names_and_globs(annotation: str | None, name: str, allowed: bool) -> None:
    assert allows(annotation, name) is allowed


def test_message_says_exactly_how_to_allow_it() -> None:
    message = not_allowed_message("team-a", "nim-key", "ej", "nightly-*")
    assert "Secret team-a/nim-key does not allow EvalJob ej" in message
    assert "(nightly-*) does not name it" in message
    assert f"kubectl annotate secret nim-key -n team-a --overwrite {ANNOTATION}=nightly-*,ej" in (
        message
    )
    bare = not_allowed_message("team-a", "nim-key", "ej", None)
    assert f"has no {ANNOTATION} annotation" in bare
    assert f"{ANNOTATION}=ej " in bare


@pytest.mark.parametrize("opt_in", [None, "someone-else"])
async def test_a_secret_that_does_not_opt_in_is_never_sent(opt_in: str | None) -> None:
    evaluator, kube = world()
    kube.secret_opt_in[("team-a", "key")] = opt_in
    ej = evaljob({"apiKeySecretRef": {"name": "key", "key": "api-key"}})
    result = await reconcile_evaljob(ej, ctx(evaluator, kube))
    assert evaluator.calls == []  # no look-up, no POST
    assert kube.metadata_patches == []  # not even marked for submission
    assert result.status.phase is EvalJobPhase.PENDING
    conds = conditions(result.status)
    assert conds["Reconciling"] == ("True", "SecretNotAllowed")
    assert conds["Ready"] == ("False", "SecretNotAllowed")
    assert "kubectl annotate secret key -n team-a" in (result.status.message or "")
    assert API_KEY not in result.status.model_dump_json()


async def test_the_opt_in_is_checked_before_the_key() -> None:
    """An EvalJob the Secret does not allow learns nothing of its keys."""
    evaluator, kube = world()
    kube.secret_opt_in[("team-a", "key")] = None
    ej = evaljob({"apiKeySecretRef": {"name": "key", "key": "no-such-key"}})
    result = await reconcile_evaljob(ej, ctx(evaluator, kube))
    assert conditions(result.status)["Ready"] == ("False", "SecretNotAllowed")
    assert "no-such-key" not in (result.status.message or "")


async def test_not_allowed_stalls_after_the_grace_period_and_recovers_once_annotated() -> None:
    evaluator, kube = world()
    kube.secret_opt_in[("team-a", "key")] = None
    ej = evaljob({"apiKeySecretRef": {"name": "key", "key": "api-key"}})
    result = await reconcile_evaljob(ej, ctx(evaluator, kube, grace=1))
    assert conditions(result.status)["Stalled"] == ("True", "SecretNotAllowed")
    kube.secret_opt_in[("team-a", "key")] = "e*"
    result = await reconcile_evaljob(ej, ctx(evaluator, kube, grace=1))
    assert evaluator.names() == ["create_job"]
    assert result.status.job_id is not None
