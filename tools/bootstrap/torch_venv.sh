#!/usr/bin/env bash
# Creates a separate virtualenv holding PyTorch (PyPI's default wheel, a CUDA build that also
# runs on CPU) and numpy, for examples/resume-demo; prints its python's path on stdout.
# It is kept apart from the project's .venv on purpose: the wheel and its CUDA libraries take
# about 5.4 GB, and no HCS package depends on torch (the checkpoint finder reads zip files).
# Idempotent: a stamp file records what was installed; a second call only prints the path.
# Pinned to the versions the demo's bit-identical resume was shown with; override with
# HCS_TORCH_SPEC="torch==X numpy==Y" (the stamp then differs and the install runs again).
# Usage: tools/bootstrap/torch_venv.sh [DIR]   (default .venv-torch)
set -euo pipefail
venv=${1:-.venv-torch}
python=${PYTHON:-python3}
spec=${HCS_TORCH_SPEC:-torch==2.15.0 numpy==2.4.6}

case "$(basename "$venv")" in
  .venv)
    echo "hcs: refusing to put torch into $venv, the project's own virtualenv; name another" \
      "directory (default .venv-torch)" >&2
    exit 1
    ;;
esac
if ! command -v "$python" >/dev/null 2>&1; then
  echo "hcs: no $python on PATH; the demo needs Python 3.11 or newer (set PYTHON=...)" >&2
  exit 1
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "hcs: $("$python" --version 2>&1) is too old; the demo needs Python 3.11 or newer" >&2
  exit 1
fi

stamp="$venv/.hcs-torch-stamp"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$spec" ] && [ -x "$venv/bin/python" ] \
  && "$venv/bin/python" -c 'import torch, numpy' >/dev/null 2>&1; then
  echo "$(cd "$venv" && pwd)/bin/python"
  exit 0
fi
if [ ! -x "$venv/bin/python" ]; then
  echo "hcs: creating virtualenv $venv" >&2
  "$python" -m venv "$venv"
fi
echo "hcs: installing $spec into $venv (about 5 GB; a minute or more)" >&2
rm -f "$stamp"
# shellcheck disable=SC2086  # the spec is a list of requirement words
"$venv/bin/python" -m pip --disable-pip-version-check -q install $spec
"$venv/bin/python" -c 'import torch; torch.zeros(1) + 1' >/dev/null
printf '%s\n' "$spec" >"$stamp"
echo "$(cd "$venv" && pwd)/bin/python"
