"""Operator settings, read once from the environment at startup."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator

__all__ = ["OperatorSettings", "SettingsError"]


class SettingsError(ValueError):
    """A setting is missing or malformed; the operator refuses to start with a one-line cause."""


class OperatorSettings(BaseModel):
    """Everything the operator needs that is not in a custom resource."""

    evaluator_url: str
    evaluator_api: Literal["v1", "helix", "auto"] = "auto"
    create_workspaces: bool = True
    token_file: Path | None = None
    ca_file: Path | None = None
    evaluator_namespace: str = "default"
    watch_namespaces: list[str] = Field(default_factory=list)
    poll_interval: float = Field(default=10.0, gt=0)
    request_timeout: float = Field(default=30.0, gt=0)
    connect_timeout: float = Field(default=5.0, gt=0)
    evaluator_connections: int = Field(default=16, ge=1, le=256)
    dependency_grace_seconds: float = Field(default=300.0, ge=0)
    delete_budget: float = Field(default=600.0, gt=0)
    max_backoff: float = Field(default=300.0, gt=0)
    progress_interval: float = Field(default=60.0, ge=0)
    drift_interval: float = Field(default=300.0, gt=0)
    leaderboard_size: int = Field(default=10, ge=1, le=100)
    liveness_endpoint: str | None = "http://0.0.0.0:8080/healthz"
    metrics_port: int | None = None

    @field_validator("evaluator_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OperatorSettings:
        """Build settings from NEMO_EVALUATOR_* and OPERATOR_* variables."""
        env = os.environ if env is None else env
        url = env.get("NEMO_EVALUATOR_URL", "").strip()
        if not url:
            raise SettingsError("NEMO_EVALUATOR_URL is required (the NeMo Evaluator host root URL)")
        raw = {
            "evaluator_url": url,
            "evaluator_api": (env.get("NEMO_EVALUATOR_API") or "auto").strip().lower(),
            "create_workspaces": env.get("NEMO_HELIX_CREATE_WORKSPACES") or True,
            "token_file": env.get("NEMO_EVALUATOR_TOKEN_FILE") or None,
            "ca_file": env.get("NEMO_EVALUATOR_CA_FILE") or None,
            "evaluator_namespace": env.get("NEMO_EVALUATOR_NAMESPACE") or "default",
            "watch_namespaces": _split_csv(env.get("OPERATOR_WATCH_NAMESPACES", "")),
            "poll_interval": env.get("OPERATOR_POLL_INTERVAL") or 10.0,
            "request_timeout": env.get("OPERATOR_REQUEST_TIMEOUT") or 30.0,
            "evaluator_connections": env.get("OPERATOR_EVALUATOR_CONNECTIONS") or 16,
            "dependency_grace_seconds": env.get("OPERATOR_DEPENDENCY_GRACE_SECONDS") or 300.0,
            "delete_budget": env.get("OPERATOR_DELETE_BUDGET_SECONDS") or 600.0,
            "max_backoff": env.get("OPERATOR_MAX_BACKOFF") or 300.0,
            "progress_interval": env.get("OPERATOR_PROGRESS_INTERVAL") or 60.0,
            "drift_interval": env.get("OPERATOR_DRIFT_INTERVAL") or 300.0,
            "leaderboard_size": env.get("OPERATOR_LEADERBOARD_SIZE") or 10,
            "liveness_endpoint": env.get(
                "OPERATOR_LIVENESS_ENDPOINT", "http://0.0.0.0:8080/healthz"
            )
            or None,
            "metrics_port": env.get("OPERATOR_METRICS_PORT") or None,
        }
        try:
            return cls.model_validate(raw)
        except ValueError as err:
            raise SettingsError(_first_error(err)) from None

    def read_token(self) -> str | None:
        """The gateway bearer token, read fresh so a rotated Secret is picked up on restart."""
        if self.token_file is None:
            return None
        try:
            return self.token_file.read_text().strip() or None
        except OSError as err:
            raise SettingsError(f"cannot read NEMO_EVALUATOR_TOKEN_FILE: {err.strerror}") from None


def _split_csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _first_error(err: ValueError) -> str:
    errors = getattr(err, "errors", None)
    if callable(errors):
        first = errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        return f"invalid setting {field}: {first['msg']}"
    return str(err)
