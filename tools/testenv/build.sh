#!/usr/bin/env bash
# Build the test control plane (etcd, kube-apiserver, kube-controller-manager) from Go modules
# into .testbin/. Skips the build when .testbin/VERSION already matches the pinned versions.
# Honours KUBEBUILDER_ASSETS: when set, those binaries are used and nothing is built.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="$ROOT/.testbin"
KUBE_MOD="$ROOT/tools/testenv/kube"
ETCD_MOD="$ROOT/tools/testenv/etcd"

die() { echo "testbin: $*" >&2; exit 1; }

if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
  for b in etcd kube-apiserver; do
    [[ -x "$KUBEBUILDER_ASSETS/$b" ]] || die "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS has no executable $b"
  done
  echo "testbin: using binaries from KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
  exit 0
fi

command -v go >/dev/null 2>&1 || die "Go is not installed (need Go >= 1.26 on PATH to build the control plane)"

kube_version="$(cd "$KUBE_MOD" && go list -m -f '{{.Version}}' k8s.io/kubernetes)"
etcd_version="$(cd "$ETCD_MOD" && go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)"
want="kubernetes=$kube_version etcd=$etcd_version go=$(go env GOVERSION)"

if [[ -f "$OUT/VERSION" && "$(cat "$OUT/VERSION")" == "$want" ]] \
   && [[ -x "$OUT/etcd" && -x "$OUT/kube-apiserver" && -x "$OUT/kube-controller-manager" && -x "$OUT/kubectl" ]]; then
  echo "testbin: up to date ($want)"
  exit 0
fi

mkdir -p "$OUT"
rm -f "$OUT/VERSION"
start=$(date +%s)
export CGO_ENABLED=0

minor="$(echo "$kube_version" | cut -d. -f2)"
ldflags="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags="$ldflags -X $p.gitVersion=$kube_version -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
done

echo "testbin: building kube-apiserver, kube-controller-manager and kubectl $kube_version (a cold build takes a while)"
(cd "$KUBE_MOD" && go build -trimpath -ldflags "$ldflags" -o "$OUT/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl) \
  || die "building kube-apiserver/kube-controller-manager/kubectl failed"

echo "testbin: building etcd $etcd_version"
(cd "$ETCD_MOD" && go build -trimpath -ldflags "-s -w" -o "$OUT/etcd" go.etcd.io/etcd/server/v3) \
  || die "building etcd failed"

echo "$want" > "$OUT/VERSION"
echo "testbin: built $want in $(( $(date +%s) - start ))s"
ls -l "$OUT"
