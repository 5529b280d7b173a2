#!/usr/bin/env bash
# `make e2e-kind`: the operator installed like users install it, in a kind cluster, then the
# same end-to-end test bodies `make test` runs, against that cluster's kubeconfig.
#
#   1. kind cluster; build and load the operator and emulator images
#   2. kubectl apply -k tools/kind  (deploy/ + an in-cluster emulator), wait for rollout
#   3. smoke: the samples reach Succeeded with the in-cluster operator
#   4. scale the in-cluster operator to 0 and run tests/e2e, tests/manifests and the deploy
#      dry-run with --kubeconfig (they start their own operator and emulator processes)
#
# Needs docker, kind and kubectl. KEEP_CLUSTER=1 keeps the cluster; KIND_NODE_IMAGE picks the
# node image (e.g. kindest/node:v1.36.x), KIND_CLUSTER the name.
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER="${KIND_CLUSTER:-nemo-evaluator-e2e}"
NS=nemo-evaluator-system
die() { echo "e2e-kind: $*" >&2; exit 1; }
for tool in docker kind kubectl; do
  command -v "$tool" >/dev/null || die "$tool is not installed (make e2e-kind needs docker, kind and kubectl)"
done
docker info >/dev/null 2>&1 || die "the Docker engine is not reachable (docker info failed)"

created=0
if ! kind get clusters | grep -qx "$CLUSTER"; then
  kind create cluster --name "$CLUSTER" ${KIND_NODE_IMAGE:+--image "$KIND_NODE_IMAGE"} --wait 180s
  created=1
fi
export KUBECONFIG
KUBECONFIG="$(mktemp)"
cleanup() {
  if [[ "${KEEP_CLUSTER:-0}" != 1 && $created == 1 ]]; then kind delete cluster --name "$CLUSTER"; fi
  rm -f "$KUBECONFIG"
}
trap cleanup EXIT
kind get kubeconfig --name "$CLUSTER" > "$KUBECONFIG"

docker build -t nemo-evaluator-operator:e2e .
docker build -f emulator/Dockerfile -t nemo-evaluator-emulator:e2e .
kind load docker-image --name "$CLUSTER" nemo-evaluator-operator:e2e nemo-evaluator-emulator:e2e

kubectl apply -k crds
kubectl wait --for=condition=Established crd/benchmarks.evaluator.nemo.dev crd/evaljobs.evaluator.nemo.dev --timeout=60s
kubectl apply -k tools/kind
kubectl -n "$NS" rollout status deploy/nemo-evaluator-emulator --timeout=180s
kubectl -n "$NS" rollout status deploy/nemo-evaluator-operator --timeout=180s

kubectl create namespace kind-smoke --dry-run=client -o yaml | kubectl apply -f -
kubectl apply -n kind-smoke -f deploy/samples
kubectl wait -n kind-smoke --for=condition=Succeeded evaljob --all --timeout=300s
kubectl get bm,ej -n kind-smoke -o wide
kubectl delete namespace kind-smoke --wait=true --timeout=120s

kubectl -n "$NS" scale deploy/nemo-evaluator-operator --replicas=0
kubectl -n "$NS" rollout status deploy/nemo-evaluator-operator --timeout=60s
make venv
.venv/bin/pytest tests/e2e tests/manifests tests/deploy/test_deploy_apiserver.py --kubeconfig "$KUBECONFIG"
