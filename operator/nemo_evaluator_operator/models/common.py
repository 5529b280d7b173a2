"""Shared pieces of the custom-resource models: the camelCase base, metadata and conditions.

The models mirror the hand-written CRDs in ``crds/``; a test walks both so they cannot drift.
Dump them with ``model_dump(by_alias=True, exclude_none=True)`` to get Kubernetes JSON.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

__all__ = [
    "CamelModel",
    "Condition",
    "ConditionStatus",
    "LocalObjectReference",
    "ObjectMeta",
    "SecretKeySelector",
]

ConditionStatus = Literal["True", "False", "Unknown"]


class CamelModel(BaseModel):
    """Base for Kubernetes-shaped models: snake_case in Python, camelCase on the wire.

    Unknown keys are ignored so that fields added by newer CRD versions or by other controllers
    (kopf's annotations, managedFields) never break parsing.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class ObjectMeta(CamelModel):
    """The subset of ``metadata`` the operator reads."""

    name: str
    namespace: str
    uid: str = ""
    generation: int = 0
    resource_version: str = ""
    deletion_timestamp: str | None = None
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    finalizers: list[str] = []
    creation_timestamp: str | None = None


class Condition(CamelModel):
    """A ``metav1.Condition``; ``last_transition_time`` changes only when ``status`` flips."""

    type: str
    status: ConditionStatus
    reason: str
    message: str = ""
    last_transition_time: str
    observed_generation: int | None = None


class LocalObjectReference(CamelModel):
    """A reference to an object of a known kind in the same namespace."""

    name: str


class SecretKeySelector(CamelModel):
    """One key of a Secret in the same namespace."""

    name: str
    key: str
