"""Entity ids in NeMo's format: a semantic prefix plus a base58-encoded uuid4."""

from __future__ import annotations

import uuid

__all__ = ["CONFIG_PREFIX", "JOB_PREFIX", "RESULT_PREFIX", "TARGET_PREFIX", "base58", "new_id"]

_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

JOB_PREFIX = "eval"
RESULT_PREFIX = "evaluation_result"
# The real prefixes for configs and targets are unknown (nemo-evaluator-api.md §13.5); these
# follow the `evaluation_result-` pattern the docs do show.
CONFIG_PREFIX = "evaluation_config"
TARGET_PREFIX = "evaluation_target"


def base58(data: bytes) -> str:
    """Encode bytes with the Bitcoin base58 alphabet (what NeMo's ids look like)."""
    number = int.from_bytes(data, "big")
    chars: list[str] = []
    while number:
        number, rest = divmod(number, 58)
        chars.append(_ALPHABET[rest])
    leading = len(data) - len(data.lstrip(b"\0"))
    return "1" * leading + "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """Return a fresh `<prefix>-<base58(uuid4)>` id."""
    return f"{prefix}-{base58(uuid.uuid4().bytes)}"
