#!/usr/bin/env bash
# Proves each package installs with plain pip, outside the monorepo's virtualenv:
# - hcs-api from its directory alone, and its library imports without the CLI extra;
# - every other package from its directory, its HCS dependencies found in the wheels that
#   `make wheels` put in dist/ (they are not on PyPI), and its command runs.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fresh_venv() {
  rm -rf "$work/venv"
  python3 -m venv "$work/venv"
}
pip() { "$work/venv/bin/python" -m pip --disable-pip-version-check -q "$@"; }

fresh_venv
pip install packages/hcs-api
"$work/venv/bin/python" - <<'PY'
import sys
import hcs_api
from hcs_api.v1alpha1 import ComputeNode
assert "click" not in sys.modules and "yaml" not in sys.modules
print(f"hcs-api {hcs_api.__version__}: installs alone and imports with pydantic only")
PY
pip install "packages/hcs-api[cli]"
"$work/venv/bin/hcs-api" crds >/dev/null
echo "hcs-api[cli]: the hcs-api command runs"

for package in packages/*/; do
  name=$(basename "$package")
  [ "$name" = hcs-api ] && continue
  fresh_venv
  pip install --find-links dist "$package"
  module=${name//-/_}
  "$work/venv/bin/python" -c "import $module; print('$name', $module.__version__, ': installs and imports')"
  if [ -x "$work/venv/bin/$name" ]; then
    "$work/venv/bin/$name" --help >/dev/null
    echo "$name: its command runs"
  fi
  if [ "$name" = hcs-exchange ]; then
    # The bundled profile data must be in the wheel, not only in the source tree.
    "$work/venv/bin/hcs-exchange" convert --vram 48Gi --tflops-fp16 100 --to H100 --to 910B1 >/dev/null
    echo "hcs-exchange: converts with its bundled profiles"
  fi
  if [ "$name" = hcs-scheduler ]; then
    # The bundled scenarios (cluster, workload, trace sample) must be in the wheel too.
    "$work/venv/bin/hcs-scheduler" simulate --policies default,best-fit >/dev/null
    "$work/venv/bin/hcs-scheduler" simulate --protocol vendor-lock >/dev/null
    echo "hcs-scheduler: simulates its bundled scenarios"
  fi
done
