#!/usr/bin/env bash
# Builds the Kubernetes control plane HCS's integration tests run against (kube-apiserver,
# kube-scheduler, kube-controller-manager from k8s.io/kubernetes; etcd from go.etcd.io/etcd/server)
# into a cache folder keyed by the pinned versions, and prints that folder's bin/ path.
# A folder already complete is reused: only the first build on a machine pays (see README).
# Usage: tools/controlplane/build.sh            (cache: $HCS_CONTROLPLANE_CACHE or ~/.cache/hcs/controlplane)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

if ! command -v go >/dev/null 2>&1; then
  cat >&2 <<'MSG'
hcs: the Go toolchain is missing. HCS's integration tests run against a real kube-apiserver,
etcd and kube-scheduler built from Go modules (tools/controlplane). Install Go 1.26 or newer
(Debian/Ubuntu: the golang package is too old; use the official Go 1.26 release) and put `go`
on PATH, then run `make test` again.
MSG
  exit 1
fi

# The version go.mod requires of module $1 (in a require block or a one-line require).
version_of() {
  awk -v m="$1" '{ sub(/^require[ 	]+/, "") } $1 == m && !found { print $2; found = 1 }' go.mod
}
kubernetes=$(version_of k8s.io/kubernetes)
etcd=$(version_of go.etcd.io/etcd/server/v3)
if [ -z "$kubernetes" ] || [ -z "$etcd" ]; then
  echo "hcs: tools/controlplane/go.mod lost its k8s.io/kubernetes or etcd requirement" >&2
  exit 1
fi
# The key names both versions and the go.sum digest, so a changed pin never reuses stale binaries.
digest=$(sha256sum go.sum | cut -c1-12)
cache=${HCS_CONTROLPLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hcs/controlplane}
out="$cache/kubernetes-$kubernetes-etcd-$etcd-$digest"
binaries=(kube-apiserver kube-scheduler kube-controller-manager etcd)

if [ -f "$out/complete" ]; then
  echo "$out/bin"
  exit 0
fi

echo "hcs: building the control plane (Kubernetes $kubernetes, etcd $etcd) into $out;" \
  "a cold build takes about 15 minutes on 2 cores" >&2
rm -rf "$out.partial"
mkdir -p "$out.partial/bin"
minor=${kubernetes#v1.}
minor=${minor%%.*}
ldflags="-s -w"
for key in gitVersion=$kubernetes gitMajor=1 gitMinor=$minor gitTreeState=clean; do
  ldflags+=" -X k8s.io/component-base/version.$key"
done
start=$SECONDS
go build -trimpath -ldflags "$ldflags" -o "$out.partial/bin/" \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-scheduler \
  k8s.io/kubernetes/cmd/kube-controller-manager
go build -trimpath -ldflags "-s -w" -o "$out.partial/bin/etcd" ./cmd/etcd
for binary in "${binaries[@]}"; do
  [ -x "$out.partial/bin/$binary" ] || { echo "hcs: the build did not produce $binary" >&2; exit 1; }
done
echo "kubernetes=$kubernetes etcd=$etcd go=$(go env GOVERSION) seconds=$((SECONDS - start))" \
  > "$out.partial/complete"
rm -rf "$out"
mv "$out.partial" "$out"
echo "hcs: control plane built in $((SECONDS - start)) s" >&2
echo "$out/bin"
