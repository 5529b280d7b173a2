#!/usr/bin/env bash
# Build Prometheus's promtool from Go modules into .testbin/promtool, for `promtool check rules`
# and `promtool test rules` on deploy/monitoring. The version is pinned in
# tools/testenv/promtool/go.mod; the build is skipped when .testbin/promtool.VERSION matches.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="$ROOT/.testbin"
MOD="$ROOT/tools/testenv/promtool"

die() { echo "promtool: $*" >&2; exit 1; }

command -v go >/dev/null 2>&1 || die "Go is not installed (need Go >= 1.26 on PATH to build promtool)"

version="$(cd "$MOD" && go list -m -f '{{.Version}}' github.com/prometheus/prometheus)"
want="prometheus=$version go=$(go env GOVERSION)"

if [[ -x "$OUT/promtool" && -f "$OUT/promtool.VERSION" && "$(cat "$OUT/promtool.VERSION")" == "$want" ]]; then
  echo "promtool: up to date ($want)"
  exit 0
fi

mkdir -p "$OUT"
rm -f "$OUT/promtool.VERSION"
start=$(date +%s)
echo "promtool: building promtool $version (a cold build takes a few minutes)"
(cd "$MOD" && CGO_ENABLED=0 go build -trimpath -o "$OUT/promtool" \
  -ldflags "-s -w -X github.com/prometheus/common/version.Version=$version" \
  github.com/prometheus/prometheus/cmd/promtool) || die "building promtool failed"
echo "$want" > "$OUT/promtool.VERSION"
echo "promtool: built $want in $(( $(date +%s) - start ))s"
