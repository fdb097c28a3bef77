#!/usr/bin/env bash
# Creates or updates the project's virtualenv: the pinned third-party packages of
# requirements/lock.txt, then every package under packages/ as an editable install.
# Usage: tools/bootstrap/venv.sh VENV_DIR
set -euo pipefail
venv=${1:-.venv}
python=${PYTHON:-python3}

if ! command -v "$python" >/dev/null 2>&1; then
  echo "hcs: no $python on PATH; HCS needs Python 3.11 or newer (set PYTHON=/path/to/python3)" >&2
  exit 1
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "hcs: $("$python" --version 2>&1) is too old; HCS needs Python 3.11 or newer" >&2
  exit 1
fi
if [ ! -x "$venv/bin/python3" ]; then
  echo "hcs: creating virtualenv $venv" >&2
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python3" -m pip --disable-pip-version-check -q)
echo "hcs: installing pinned packages from requirements/lock.txt" >&2
"${pip[@]}" install -r requirements/lock.txt
editables=()
for package in packages/*/; do
  editables+=(-e "$package")
done
# --no-deps: every third-party package comes from the lock file, nothing floats.
"${pip[@]}" install --no-deps --no-build-isolation "${editables[@]}"
