#!/usr/bin/env bash
# `make images`: the agent, scheduler and webhook images, built with buildah from the wheels of
# this tree on a base made from Debian packages (tools/images/base.sh). Prints each image's
# name, size and labels. `build.sh --plan` prints what it would build (component, package,
# version, image) without building anything; the fast test reads it.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tools/images/common.sh

COMPONENTS=(agent scheduler webhook)
RECORD=images/base/packages.txt
LOGS=$HCS_IMAGES_CACHE/logs

fail() {
  echo "hcs: cannot build the images: $*" >&2
  exit 1
}

version() { # the version in a package's pyproject: the one thing that names its image
  python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' \
    "packages/$1/pyproject.toml"
}

python3 -c 'import tomllib' 2>/dev/null || fail "python3 (3.11 or newer, for tomllib) is missing"
declare -A VERSIONS
for c in "${COMPONENTS[@]}"; do VERSIONS[$c]=$(version "hcs-$c"); done
if [ "${1:-}" = --plan ]; then
  for c in "${COMPONENTS[@]}"; do
    echo "$c hcs-$c ${VERSIONS[$c]} localhost/hcs-$c:${VERSIONS[$c]} images/$c/Containerfile"
  done
  exit 0
fi

# What is missing, all at once, before minutes of work.
lacking=()
[ "$(id -u)" -eq 0 ] || lacking+=("root (debootstrap, chroot and buildah's chroot isolation need it)")
command -v buildah >/dev/null || lacking+=("buildah (Debian/Ubuntu: apt-get install buildah)")
command -v make >/dev/null || lacking+=("make")
command -v cc >/dev/null || lacking+=("a C compiler, cc (libhcs_interceptor.so)")
tools/bootstrap/ebpf.sh >/dev/null 2>&1 || lacking+=("the eBPF toolchain (tools/bootstrap/ebpf.sh: clang, bpftool, libbpf-dev, libelf-dev)")
command -v git >/dev/null || lacking+=("git (the images' revision label)")
if [ ${#lacking[@]} -gt 0 ]; then
  fail "missing: $(printf '%s; ' "${lacking[@]}")"
fi
mkdir -p "$LOGS"

# Wheels: rebuilt when one is missing or its package's sources are newer than it, so an image
# never carries code older than the revision on its label.
stale=
for p in hcs-api hcs-exchange hcs-health hcs-agent hcs-scheduler hcs-webhook; do
  wheel=dist/${p//-/_}-$(version "$p")-py3-none-any.whl
  if [ ! -f "$wheel" ] || [ -n "$(find "packages/$p/src" "packages/$p/pyproject.toml" -newer "$wheel" -print -quit)" ]; then
    stale=$p
  fi
done
if [ -n "$stale" ]; then
  echo "hcs: building the wheels ($stale is missing or out of date)" >&2
  make -s wheels >/dev/null
fi
make -s -C native/interceptor >/dev/null
make -s -C native/ebpf image >/dev/null
[ -x .venv/bin/pip ] || make -s venv >&2

# Third-party wheels for the base's interpreter (CPython 3.11, glibc 2.36, x86_64) whatever this
# host runs, at the pins of requirements/lock.txt; the build itself then needs no network.
[ "$(uname -m)" = x86_64 ] || fail "only x86_64 images are built so far (this host is $(uname -m))"
platforms=()
for minor in $(seq 36 -1 17); do platforms+=(--platform "manylinux_2_${minor}_x86_64"); done
requirements=()
for c in "${COMPONENTS[@]}"; do requirements+=("hcs-$c==${VERSIONS[$c]}"); done
wheels=$HCS_IMAGES_CACHE/wheels
echo "hcs: fetching the pinned third-party wheels into $wheels" >&2
.venv/bin/pip download -q --disable-pip-version-check --dest "$wheels" --find-links dist \
  --only-binary=:all: --python-version 3.11 --implementation cp --abi cp311 \
  "${platforms[@]}" --platform manylinux2014_x86_64 \
  -c requirements/lock.txt "${requirements[@]}" >"$LOGS/wheels.log" 2>&1 ||
  { tail -5 "$LOGS/wheels.log" >&2; fail "pip could not fetch the wheels (log: $LOGS/wheels.log)"; }
rm -f "$wheels"/hcs_*.whl # HCS's own come from dist/, fresh

# The base: the one images/base/packages.txt pins, else a new one (its tag carries today's date,
# and the record is rewritten: commit it to pin the new base).
base=$(sed -n 's/^# image: //p' "$RECORD" 2>/dev/null || true)
if [ -z "$base" ] || ! bah inspect --type image "$base" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null ||
    fail "the base ${base:-image} is not built and debootstrap is missing (apt-get install debootstrap)"
  echo "hcs: the base ${base:-image} is not in $HCS_IMAGES_CACHE/storage: building one" >&2
  tools/images/base.sh "$RECORD"
  pinned=$base
  base=$(sed -n 's/^# image: //p' "$RECORD")
  [ -z "$pinned" ] || [ "$pinned" = "$base" ] ||
    echo "hcs: note: $pinned was pinned; Debian's mirror now gives $base ($RECORD rewritten)" >&2
fi

# One build context for the three images: wheels, the lock as constraints, the interposer.
context=$HCS_IMAGES_CACHE/context
rm -rf "$context" && mkdir -p "$context/wheels" "$context/lib" "$context/bin"
cp -l "$wheels"/*.whl "$context/wheels/" 2>/dev/null || cp "$wheels"/*.whl "$context/wheels/"
for p in api exchange health "${COMPONENTS[@]}"; do cp "dist/hcs_$p-"*.whl "$context/wheels/"; done
cp requirements/lock.txt "$context/constraints.txt"
cp native/interceptor/build/libhcs_interceptor.so "$context/lib/"
cp native/ebpf/build/image/hcs-ebpf-loader "$context/bin/"

# The revision is dirty when what goes into the images differs from the commit (other parts of
# the tree, such as deploy/, do not change an image).
revision=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain -- packages native/interceptor native/ebpf requirements images tools/images 2>/dev/null)" ]; then
  revision=$revision-dirty
fi
created=$(date -u ${SOURCE_DATE_EPOCH:+-d @$SOURCE_DATE_EPOCH} +%Y-%m-%dT%H:%M:%SZ)

for c in "${COMPONENTS[@]}"; do
  image=localhost/hcs-$c:${VERSIONS[$c]}
  echo "hcs: building $image (log: $LOGS/$c.log)" >&2
  bah bud --isolation chroot --pull=never -f "images/$c/Containerfile" \
    --build-arg "BASE=$base" --build-arg "VERSION=${VERSIONS[$c]}" \
    --build-arg "REVISION=$revision" --build-arg "CREATED=$created" \
    -t "$image" "$context" >"$LOGS/$c.log" 2>&1 ||
    { tail -20 "$LOGS/$c.log" >&2; fail "buildah could not build $image (log: $LOGS/$c.log)"; }
done

# vfs keeps a full copy per layer: drop the images these builds replaced.
bah rmi --prune >/dev/null 2>&1 || true

for c in base "${COMPONENTS[@]}"; do
  image=$base
  [ "$c" = base ] || image=localhost/hcs-$c:${VERSIONS[$c]}
  bah images --format '{{.Name}}:{{.Tag}}  {{.Size}}' "$image"
  # shellcheck disable=SC2016  # expanded by the command, not the shell
  bah inspect --type image --format \
    '{{range $k, $v := .OCIv1.Config.Labels}}    {{$k}}={{$v}}{{"\n"}}{{end}}' "$image"
done
echo "(in buildah's storage $HCS_IMAGES_CACHE/storage; images/README.md says how to export them)"
