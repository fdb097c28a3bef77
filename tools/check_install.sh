#!/usr/bin/env bash
# Proves `pip install packages/hcs-api` works on its own (as a user outside the monorepo would
# do it) and that the library imports without the CLI extra, then the same with the extra.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
pip=("$work/venv/bin/python" -m pip --disable-pip-version-check -q)
"${pip[@]}" install packages/hcs-api
"$work/venv/bin/python" - <<'PY'
import sys
import hcs_api
from hcs_api.v1alpha1 import ComputeNode
assert "click" not in sys.modules and "yaml" not in sys.modules
print(f"hcs-api {hcs_api.__version__} imports on its own (pydantic only)")
PY
"${pip[@]}" install "packages/hcs-api[cli]"
"$work/venv/bin/hcs-api" crds >/dev/null
echo "hcs-api[cli] installs and its command runs"
for package in packages/*/; do
  name=$(basename "$package")
  [ "$name" = hcs-api ] && continue
  "${pip[@]}" install "$package"
done
echo "every package under packages/ installs with plain pip"
