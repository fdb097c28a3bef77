#!/usr/bin/env bash
# `make test`: runs every test through `bazel test //...` and closes with one line,
# "N passed, M failed", counted over test cases. Exits non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

bep=$(mktemp)
trap 'rm -f "$bep"' EXIT
# --keep_going: one broken target must not hide the results of the others.
# HCS_CONTROLPLANE_BIN (set by `make test`) reaches the tests that start a real control plane,
# HCS_HELM (likewise) the chart's tests.
bazel test //... --keep_going --build_event_json_file="$bep" --test_env=HCS_CONTROLPLANE_BIN \
  --test_env=HCS_HELM "$@"
bazel_status=$?
labels=$(bazel query 'tests(//...)' 2>/dev/null)
if [ -z "$labels" ]; then
  echo "0 passed, 1 failed"
  echo "hcs: bazel found no test targets (bazel exit status $bazel_status)" >&2
  exit 1
fi
# shellcheck disable=SC2086  # one label per word
.venv/bin/python3 tools/test_summary.py "$bep" $labels
summary_status=$?
[ "$bazel_status" -eq 0 ] && [ "$summary_status" -eq 0 ]
