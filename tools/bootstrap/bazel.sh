#!/usr/bin/env bash
# Makes sure `bazel` is on PATH. On Debian/Ubuntu it installs Debian's bazel-bootstrap (4.2.3,
# builds offline in WORKSPACE mode); elsewhere it says what to install.
set -euo pipefail
if command -v bazel >/dev/null 2>&1; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo=(sudo); else
      echo "hcs: bazel is missing and installing it needs root: apt-get install bazel-bootstrap" >&2
      exit 1
    fi
  fi
  echo "hcs: installing bazel-bootstrap with apt-get" >&2
  if ! "${sudo[@]}" apt-get install -y -q bazel-bootstrap >/dev/null 2>&1; then
    "${sudo[@]}" apt-get update -q >/dev/null
    "${sudo[@]}" apt-get install -y -q bazel-bootstrap >/dev/null
  fi
  command -v bazel >/dev/null 2>&1 && exit 0
fi
cat >&2 <<'MSG'
hcs: bazel is not installed and this is not a Debian/Ubuntu machine with apt-get.
Install Bazel 4.x (Debian's bazel-bootstrap 4.2.3 is what HCS is tested with), put `bazel` on
PATH, and run `make test` again.
MSG
exit 1
