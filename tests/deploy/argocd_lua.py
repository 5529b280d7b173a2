"""Run Argo CD health scripts the way Argo CD runs them, on a real Lua runtime.

Why: a health check is only trustworthy if it runs where Argo CD runs it. Argo CD uses
gopher-lua (Lua 5.1) with only the base, table, package and a "safe" os library loaded (no
string library, so no string methods either), sets the live object as the global `obj`, and
expects a `{status=..., message=...}` table back (util/lua/lua.go). This module rebuilds that
sandbox on lupa's Lua 5.1, so a script that leans on anything else fails here as it would there.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from lupa import lua51

__all__ = [
    "HEALTH_DIR",
    "OBJECTS_DIR",
    "VALID_STATUSES",
    "HealthCase",
    "HealthScript",
    "health_cases",
]

ROOT = Path(__file__).resolve().parents[2]
HEALTH_DIR = ROOT / "deploy" / "argocd" / "health"
OBJECTS_DIR = Path(__file__).resolve().parent / "objects"
VALID_STATUSES = frozenset(
    {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}
)
TIME_LIMIT_SECONDS = 1.0  # Argo CD cancels a script after one second

# Builds the sandbox: Argo CD's libraries only, the object as global `obj`, the script's return.
_RUNNER = """
getmetatable("").__index = nil  -- no string library in Argo CD, so no ("x"):method() either
local base = {"assert", "error", "ipairs", "next", "pairs", "pcall", "rawequal", "rawget",
              "rawset", "select", "setmetatable", "getmetatable", "tonumber", "tostring",
              "type", "unpack", "xpcall"}
return function(source, name, obj)
  local env = {obj = obj}
  for _, key in ipairs(base) do env[key] = _G[key] end
  env._G = env
  env.table = {concat = table.concat, insert = table.insert, remove = table.remove,
               sort = table.sort, getn = table.getn, maxn = table.maxn}
  env.os = {clock = os.clock, date = os.date, difftime = os.difftime, time = os.time}
  local chunk, err = loadstring(source, "=" .. name)
  if chunk == nil then error(err) end
  setfenv(chunk, env)
  return chunk()
end
"""


class HealthScript:
    """One health.lua, runnable on Python objects; returns Argo CD's {status, message}."""

    def __init__(self, source: str, name: str) -> None:
        self.source = source
        self.name = name
        self._lua = lua51.LuaRuntime(unpack_returned_tuples=False)
        self._run = self._lua.execute(_RUNNER)

    @classmethod
    def for_kind(cls, kind: str) -> HealthScript:
        """`deploy/argocd/health/<Kind>.lua`."""
        path = HEALTH_DIR / f"{kind}.lua"
        return cls(path.read_text(), path.name)

    def __call__(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """The health Argo CD would compute for `obj`; raises on a Lua error or a bad result."""
        started = time.monotonic()
        result = self._run(self.source, self.name, self._to_lua(obj))
        elapsed = time.monotonic() - started
        if elapsed > TIME_LIMIT_SECONDS:
            raise AssertionError(f"{self.name} took {elapsed:.2f}s; Argo CD stops it at 1s")
        if self._lua.globals().type(result) != "table":
            raise AssertionError(f"{self.name} returned {result!r}, not a table")
        health = {str(k): v for k, v in result.items()}
        if health.get("status") not in VALID_STATUSES:
            raise AssertionError(f"{self.name} returned an invalid status: {health!r}")
        return health

    def _to_lua(self, value: Any) -> Any:
        """JSON-like Python data as Lua values (lists become 1-based sequences, as in Argo CD)."""
        if isinstance(value, Mapping):
            items = {str(k): self._to_lua(v) for k, v in value.items() if v is not None}
            return self._lua.table_from(items)
        if isinstance(value, list | tuple):
            return self._lua.table_from([self._to_lua(v) for v in value])
        if isinstance(value, datetime.datetime | datetime.date):
            return value.isoformat().replace("+00:00", "Z")
        return value


@dataclass(frozen=True)
class HealthCase:
    """One object and the health Argo CD must report for it."""

    kind: str
    path: Path
    status: str
    message: str

    @property
    def id(self) -> str:
        """Test id: `<Kind>/<file stem>`."""
        return f"{self.kind}/{self.path.stem}"

    def load(self) -> dict[str, Any]:
        """The object, as `kubectl get -o yaml` would print it."""
        obj: dict[str, Any] = yaml.safe_load(self.path.read_text())
        return obj


def health_cases(kind: str) -> list[HealthCase]:
    """Every case in `objects/<Kind>/health_test.yaml` (Argo CD's own test format)."""
    folder = OBJECTS_DIR / kind
    spec = yaml.safe_load((folder / "health_test.yaml").read_text())
    return [
        HealthCase(
            kind=kind,
            path=folder / test["inputPath"],
            status=test["healthStatus"]["status"],
            message=test["healthStatus"].get("message", ""),
        )
        for test in spec["tests"]
    ]
