# shellcheck shell=bash
# Sourced by build.sh and base.sh: where image work lives and how buildah is called.
#
# Everything goes under one cache folder outside the repository (HCS_IMAGES_CACHE): buildah's
# own storage, the downloaded wheels, the build context. The vfs driver needs no overlay mount
# support, and chroot isolation no user namespaces or runc: both work on these build machines.
HCS_IMAGES_CACHE=${HCS_IMAGES_CACHE:-$HOME/.cache/hcs/images}

bah() {
  buildah --root "$HCS_IMAGES_CACHE/storage" --runroot "$HCS_IMAGES_CACHE/run" \
    --storage-driver vfs "$@"
}
