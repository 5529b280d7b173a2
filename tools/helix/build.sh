#!/usr/bin/env bash
# Build the NeMo Helix environment (Python 3.12) into .helix/venv from tools/helix/requirements.lock.
# Helix needs Python 3.12, the project runs on 3.11, so Helix lives in a venv of its own that the
# tests start as a separate process. uv (from .venv, see pyproject's test extra) creates the venv
# and installs the locked set; pip cannot resolve this set in reasonable time.
#
# Python 3.12 is looked for in this order: $HELIX_PYTHON, the newest $(pyenv root)/versions/3.12.*,
# then python3.12 on PATH if it runs. The build is skipped while .helix/venv/.stamp matches the
# lock's sha256 and the interpreter. Every failure exits non-zero with a one-line cause.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
LOCK="$ROOT/tools/helix/requirements.lock"
HELIX="$ROOT/.helix"
VENV="$HELIX/venv"
STAMP="$VENV/.stamp"

die() { echo "helix: $*" >&2; exit 1; }

# A python3.12 that runs, or nothing.
runs_312() {
  [[ -x "$1" ]] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null
}

find_python() {
  if [[ -n "${HELIX_PYTHON:-}" ]]; then
    runs_312 "$HELIX_PYTHON" || die "HELIX_PYTHON=$HELIX_PYTHON is not a working Python 3.12"
    echo "$HELIX_PYTHON"
    return
  fi
  local pyenv_root="" candidate
  if command -v pyenv >/dev/null 2>&1; then
    pyenv_root="$(pyenv root 2>/dev/null || true)"
  fi
  pyenv_root="${pyenv_root:-${PYENV_ROOT:-$HOME/.pyenv}}"
  while read -r candidate; do
    if runs_312 "$candidate"; then echo "$candidate"; return; fi
  done < <(ls -d "$pyenv_root"/versions/3.12.*/bin/python3.12 2>/dev/null | sort -rV)
  candidate="$(command -v python3.12 || true)"
  if [[ -n "$candidate" ]] && "$candidate" -c 'import sys' >/dev/null 2>&1 && runs_312 "$candidate"; then
    echo "$candidate"
    return
  fi
  die "Python 3.12 not found (set HELIX_PYTHON or install it with pyenv)"
}

find_uv() {
  if [[ -n "${UV:-}" ]]; then echo "$UV"; return; fi
  if [[ -x "$ROOT/.venv/bin/uv" ]]; then echo "$ROOT/.venv/bin/uv"; return; fi
  command -v uv || die "uv not found (run \`make venv\`, which installs it into .venv)"
}

[[ -f "$LOCK" ]] || die "$LOCK is missing (run \`make helix-lock\`)"
PY="$(find_python)"
interpreter="$("$PY" -c 'import os, sys; print(sys.version.split()[0], os.path.realpath(sys.executable))')"
want="lock-sha256=$(sha256sum "$LOCK" | cut -d' ' -f1) python=$interpreter"

up_to_date() {
  [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" && -x "$VENV/bin/nemo" && -x "$VENV/bin/python" ]]
}

if up_to_date; then
  echo "helix: up to date ($VENV)"
  exit 0
fi

mkdir -p "$HELIX"
exec 9>"$HELIX/build.lock"
flock 9  # a second `make` in the same checkout waits, then finds the venv built
if up_to_date; then
  echo "helix: up to date ($VENV)"
  exit 0
fi

UV_BIN="$(find_uv)"
start=$(date +%s)
echo "helix: building $VENV with $PY ($("$UV_BIN" --version))"
rm -rf "$VENV"
"$UV_BIN" venv --quiet --python "$PY" "$VENV" || die "uv venv failed"
echo "helix: installing $(grep -c '^[a-z0-9]' "$LOCK") packages from ${LOCK#"$ROOT"/}"
"$UV_BIN" pip sync --quiet --python "$VENV/bin/python" "$LOCK" || die "uv pip sync $LOCK failed"
"$VENV/bin/nemo" --version >/dev/null || die "$VENV/bin/nemo does not run after the install"
echo "$want" > "$STAMP"
echo "helix: built in $(( $(date +%s) - start ))s, $(du -sh "$VENV" | cut -f1) in $VENV"
