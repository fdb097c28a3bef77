#!/usr/bin/env bash
# Builds HCS's base image from Debian packages, because container registries are out of reach
# here and Debian's mirror is not: Debian 12 (bookworm) minbase + Python 3.11, brought up to
# bookworm-updates and bookworm-security, one non-root user (65532), caches and docs stripped.
#
# Usage: base.sh RECORD
# Commits localhost/hcs-base:bookworm-<UTC date> and rewrites RECORD (images/base/packages.txt)
# with the tag, the mirrors, their Release dates and every installed package's version.
# deb.debian.org serves only current versions, so the date in the tag is what pins the content.
# Needs root (debootstrap, chroot), debootstrap and buildah; tools/images/build.sh calls it.
set -euo pipefail
record=$1
here=$(dirname "$0")
# shellcheck source=tools/images/common.sh
. "$here/common.sh"

mirror=${HCS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${HCS_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
suite=bookworm
day=$(date -u +%Y%m%d)
tag=localhost/hcs-base:$suite-$day

mkdir -p "$HCS_IMAGES_CACHE"
work=$(mktemp -d "$HCS_IMAGES_CACHE/base.XXXXXX")
root=$work/rootfs
# A failed debootstrap can leave /proc or /sys mounted inside the root: unmount them, and never
# let rm cross into another file system.
cleanup() {
  findmnt -rn -o TARGET | grep "^$root/" | sort -r | xargs -r umount -l 2>/dev/null || true
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

echo "hcs: debootstrap $suite (minbase + python3) from $mirror" >&2
debootstrap --variant=minbase --include=python3,python3-venv "$suite" "$root" "$mirror" \
  >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; exit 1; }

# The point release alone lags security fixes by months: take updates and security too.
cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security $suite-security main
EOF
chroot "$root" /bin/sh -ec '
  export DEBIAN_FRONTEND=noninteractive
  apt-get -q update
  apt-get -q -y upgrade
  groupadd --gid 65532 hcs
  useradd --uid 65532 --gid 65532 --home-dir /nonexistent --no-create-home \
    --shell /usr/sbin/nologin hcs
' >"$work/upgrade.log" 2>&1 || { tail -20 "$work/upgrade.log" >&2; exit 1; }

releases=$(for f in "$root"/var/lib/apt/lists/*_InRelease; do
  printf '#   %s (%s): %s\n' "$(sed -n 's/^Codename: //p' "$f")" \
    "$(sed -n 's/^Suite: //p' "$f")" "$(sed -n 's/^Date: //p' "$f")"
done)
{
  echo "# HCS base image, built by tools/images/base.sh; the images' FROM (tools/images/build.sh)."
  echo "# image: $tag"
  echo "# built: $(date -u +%Y-%m-%dT%H:%M:%SZ) with $(dpkg-query -W -f='debootstrap ${Version}' debootstrap)"
  echo "# mirrors: $mirror ($suite, $suite-updates), $security ($suite-security)"
  echo "# Release files:"
  echo "$releases"
  echo "# Packages (name version), from the image's dpkg database:"
  # shellcheck disable=SC2016  # expanded by the command, not the shell
  chroot "$root" dpkg-query -W -f='${Package} ${Version}\n' | sort
} >"$work/packages.txt"

# Package lists, downloaded .debs, man pages and translations are not needed at run time; each
# package's copyright file stays.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
  "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
  "$root"/var/log/* "$root"/tmp/* "$root"/root/.cache
find "$root"/usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete
find "$root"/usr/share/doc -mindepth 1 -type d -empty -delete

tar -C "$root" --numeric-owner --xattrs -cf "$work/rootfs.tar" .
ctr=$(bah from scratch)
bah add "$ctr" "$work/rootfs.tar" / >/dev/null
bah config \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env LANG=C.UTF-8 \
  --cmd /bin/sh \
  --label org.opencontainers.image.title=hcs-base \
  --label "org.opencontainers.image.version=$suite-$day" \
  --label "org.opencontainers.image.created=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --label "org.opencontainers.image.description=Debian 12 minbase + Python 3.11 for HCS images" \
  "$ctr"
bah commit -q --rm "$ctr" "$tag" >/dev/null
mv "$work/packages.txt" "$record"
echo "hcs: committed $tag; $record records its provenance" >&2
