#!/usr/bin/env bash
# Runs pytest with one mutant of the last `make mutation` run switched on, to see whether a new
# test kills it: prints "killed" (the tests failed; exit 0) or "survived" (exit 1). The tests
# must pass with no mutant first (exit 2 otherwise), so a broken test never reads as a kill.
# Usage: tools/mutation/try_mutant.sh PACKAGE MUTANT [pytest arguments...]
#   tools/mutation/try_mutant.sh hcs-api 'hcs_api._podrequest.x_read_preferences__mutmut_33' \
#     packages/hcs-api/tests/test_podrequest.py
set -uo pipefail
cd "$(dirname "$0")/../.."
package=${1:?package, as in tools/mutation/modules.toml}
mutant=${2:?mutant name, as make mutation prints it}
shift 2
src=".mutation-$package/mutants/src"
if [ ! -d "$src" ]; then
  echo "no mutants for $package: run make mutation (or tools/mutation/run.py --package $package)" >&2
  exit 2
fi
run() {
  MUTANT_UNDER_TEST="$1" PYTHONPATH="$PWD/$src" .venv/bin/python -m pytest -c pyproject.toml \
    -q -x -p no:cacheprovider "${@:2}" >/dev/null 2>&1
}
if ! run "" "$@"; then
  echo "the tests fail with no mutant switched on; fix them first" >&2
  exit 2
fi
if run "$mutant" "$@"; then
  echo "survived: $mutant"
  exit 1
fi
echo "killed: $mutant"
