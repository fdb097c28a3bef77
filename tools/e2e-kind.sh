#!/usr/bin/env bash
# The whole stack on a throw-away kind cluster: images built here (make images) loaded into it,
# the chart installed with values-dev.yaml (an inventory-mode agent reports a made-up
# four-vendor node), then one pod asking `ai.compute/vram: 16Gi` must come back mutated by the
# webhook and bound by kube-scheduler through the HCS extender, with its allocation recorded.
#
# Opt-in: it needs a Docker engine (kind runs nodes as containers), which these build machines
# lack; `make test` does not run it. Usage: tools/e2e-kind.sh [--keep] (--keep leaves the cluster).
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER=hcs-e2e
NODE_IMAGE=${HCS_KIND_NODE_IMAGE:-kindest/node:v1.35.0}
KIND=${KIND:-kind}
KEEP=false
[ "${1:-}" = "--keep" ] && KEEP=true

fail() { echo "e2e-kind: $*" >&2; exit 1; }
step() { echo "== $*"; }

missing=()
docker info >/dev/null 2>&1 || missing+=("a running Docker engine (docker info failed)")
command -v "$KIND" >/dev/null || missing+=("kind (go install sigs.k8s.io/kind@latest, or set KIND)")
command -v kubectl >/dev/null || missing+=("kubectl")
command -v buildah >/dev/null || missing+=("buildah (apt-get install buildah)")
[ ${#missing[@]} -eq 0 ] || fail "missing: $(printf '%s; ' "${missing[@]}")"
helm=$(tools/bootstrap/helm.sh)
# shellcheck source=tools/images/common.sh
. tools/images/common.sh

version() { sed -n 's/^version = "\(.*\)"/\1/p' "packages/hcs-$1/pyproject.toml"; }
declare -A IMAGES=(
  [agent]="localhost/hcs-agent:$(version agent)"
  [scheduler]="localhost/hcs-scheduler:$(version scheduler)"
  [webhook]="localhost/hcs-webhook:$(version webhook)"
)

step "images (make images)"
tools/images/build.sh

step "kind cluster $CLUSTER ($NODE_IMAGE)"
"$KIND" get clusters | grep -qx "$CLUSTER" || "$KIND" create cluster --name "$CLUSTER" --image "$NODE_IMAGE"
$KEEP || trap '"$KIND" delete cluster --name "$CLUSTER"' EXIT
export KUBECONFIG
KUBECONFIG=$(mktemp)
"$KIND" get kubeconfig --name "$CLUSTER" >"$KUBECONFIG"

step "loading the images into the cluster's nodes"
archive_dir=$(mktemp -d)
for component in "${!IMAGES[@]}"; do
  image=${IMAGES[$component]}
  # buildah keeps its own storage (`bah`, tools/images/common.sh); kind loads a docker-archive.
  bah push "$image" "docker-archive:$archive_dir/$component.tar:$image"
  "$KIND" load image-archive "$archive_dir/$component.tar" --name "$CLUSTER"
done

step "helm install (values-dev.yaml)"
kubectl create namespace hcs-system --dry-run=client -o yaml | kubectl apply -f -
# The agent's init container is privileged (bind mounts into the runtime directory).
kubectl label namespace hcs-system pod-security.kubernetes.io/enforce=privileged --overwrite
"$helm" upgrade --install hcs deploy/helm/hcs -n hcs-system -f deploy/helm/hcs/values-dev.yaml --wait --timeout 5m

step "the agent's ComputeNode"
node=$(kubectl get nodes -o jsonpath='{.items[0].metadata.name}')
for _ in $(seq 60); do
  kubectl get computenode "$node" >/dev/null 2>&1 && break
  sleep 2
done
kubectl get computenode "$node" -o jsonpath='{range .spec.devices[*]}{.id} {.model}{"\n"}{end}' ||
  fail "no ComputeNode for $node after 2 minutes (kubectl -n hcs-system logs ds/hcs-agent)"

step "a pod asking ai.compute/vram: 16Gi"
kubectl delete pod e2e-train --ignore-not-found --wait
kubectl apply -f - <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: e2e-train, namespace: default}
spec:
  restartPolicy: Never
  containers:
    - name: train
      image: busybox:1.36
      command: [sh, -c, 'echo "devices: $NVIDIA_VISIBLE_DEVICES$ASCEND_VISIBLE_DEVICES"; sleep 5']
      resources: {limits: {ai.compute/vram: 16Gi}}
EOF
scheduler=$(kubectl get pod e2e-train -o jsonpath='{.spec.schedulerName}')
[ "$scheduler" = "hcs-scheduler" ] || fail "the webhook did not mutate the pod (schedulerName $scheduler)"
for _ in $(seq 60); do
  bound=$(kubectl get pod e2e-train -o jsonpath='{.spec.nodeName}')
  [ -n "$bound" ] && break
  sleep 2
done
[ -n "${bound:-}" ] || fail "not bound after 2 minutes: $(kubectl get events --field-selector involvedObject.name=e2e-train -o jsonpath='{.items[-1].message}')"
allocation=$(kubectl get pod e2e-train -o jsonpath="{.metadata.annotations['hcs\.io/allocation']}")
[ -n "$allocation" ] || fail "bound to $bound without an hcs.io/allocation annotation"
echo "bound to $bound: $allocation"
echo "e2e-kind: PASS"
