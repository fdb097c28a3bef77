#!/usr/bin/env bash
# After tools/images/build.sh: runs each image's own entrypoint, as the image's user, on its root
# file system mounted read-only with only /tmp writable (what the chart's readOnlyRootFilesystem
# and /tmp emptyDir give), and checks it works: the scheduler (static mode) and the webhook
# (self-signed) answer /healthz, the agent collects once from an inventory and `hcs-agent
# runtime` installs the interposer into a runtime directory.
# No container runtime is needed: a mount namespace (unshare) and chroot, as root.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tools/images/common.sh
declare -A VERSIONS
while read -r c _ v _; do VERSIONS[$c]=$v; done < <(tools/images/build.sh --plan)

work=$(mktemp -d)
inputs=$work/inputs
mkdir -p "$inputs"
cp deploy/examples/computenode-h100.yaml packages/hcs-agent/examples/hgx-h100-node.yaml "$inputs/"
PID='' CTR=''
# Whatever happens, the server goes and so does the working container (it pins its image).
# The server runs as another user under unshare, which ignores SIGTERM and whose death signal
# the user change clears: signal its whole process group (setsid gave it one).
finish() {
  if [ -n "$PID" ]; then
    kill -TERM -- "-$PID" 2>/dev/null || true
    for _ in $(seq 20); do kill -0 "$PID" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  if [ -n "$CTR" ]; then bah umount "$CTR" >/dev/null && bah rm "$CTR" >/dev/null; fi
  PID='' CTR=''
}
trap 'finish; rm -rf "$work"' EXIT

# launch IMAGE LOG ARGS...: the entrypoint with ARGS in the background (PID), with the image's
# env and user, its root read-only, /tmp a fresh tmpfs holding the inputs.
launch() {
  local image=$1 log=$2 mnt user entry env
  shift 2
  CTR=$(bah from --pull=never "$image")
  mnt=$(bah mount "$CTR")
  user=$(bah inspect --type image --format '{{.OCIv1.Config.User}}' "$image")
  entry=$(bah inspect --type image --format '{{range .OCIv1.Config.Entrypoint}}{{.}} {{end}}' "$image")
  env=$(bah inspect --type image --format '{{range .OCIv1.Config.Env}}{{.}} {{end}}' "$image")
  # shellcheck disable=SC2016,SC2086  # the inner script's $ are its own; env, entry: word lists
  setsid unshare --mount --fork sh -ec '
    mnt=$1; inputs=$2; user=$3; shift 3
    mount --bind "$mnt" "$mnt" && mount -o remount,bind,ro "$mnt"
    mount -t tmpfs -o mode=1777 tmpfs "$mnt/tmp" && cp -r "$inputs"/. "$mnt/tmp/"
    chmod -R a+rwX "$mnt/tmp"
    mount -t proc proc "$mnt/proc" && mount --rbind /dev "$mnt/dev"
    exec chroot --userspec="$user" "$mnt" "$@"
  ' sh "$mnt" "$inputs" "$user" env -i $env $entry "$@" >"$log" 2>&1 &
  PID=$!
}

# serve IMAGE URL ARGS...: passes when URL answers within 30 s.
serve() {
  local image=$1 url=$2 log=$work/serve.log
  shift 2
  launch "$image" "$log" "$@"
  for _ in $(seq 60); do
    if curl -ksf "$url" >/dev/null; then
      echo "ok: $image answers $url as user $(user_of "$image"), root read-only"
      finish
      return 0
    fi
    sleep 0.5
  done
  cat "$log" >&2
  echo "FAILED: $image did not answer $url" >&2
  exit 1
}

# once IMAGE ARGS...: passes when the command exits 0; prints its output indented.
once() {
  local image=$1 log=$work/once.log status=0
  shift
  launch "$image" "$log" "$@"
  wait "$PID" || status=$?
  PID=''
  finish
  sed 's/^/    /' "$log"
  [ "$status" -eq 0 ] || { echo "FAILED: $image $* (exit $status)" >&2; exit 1; }
  echo "ok: $image $1 as user $(user_of "$image"), root read-only"
}

user_of() { bah inspect --type image --format '{{.OCIv1.Config.User}}' "$1"; }

serve "localhost/hcs-scheduler:${VERSIONS[scheduler]}" http://127.0.0.1:18888/healthz \
  serve --cluster /tmp/computenode-h100.yaml --port 18888
serve "localhost/hcs-webhook:${VERSIONS[webhook]}" https://127.0.0.1:18443/healthz \
  serve --self-signed --port 18443
agent=localhost/hcs-agent:${VERSIONS[agent]}
once "$agent" run --no-report --once --inventory /tmp/hgx-h100-node.yaml --listen-port 19460
once "$agent" runtime --runtime-dir /tmp/runtime
