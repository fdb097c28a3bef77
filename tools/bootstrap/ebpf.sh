#!/usr/bin/env bash
# Makes sure the eBPF toolchain native/ebpf builds with is installed: clang (the BPF object),
# bpftool (the skeleton header), libbpf, libelf and zlib (the loader links them), and the kernel
# headers' <linux/bpf.h>. On Debian/Ubuntu it installs what is missing with apt-get; elsewhere
# it names the packages.
set -euo pipefail
missing=()
command -v clang >/dev/null 2>&1 || missing+=(clang llvm)
command -v bpftool >/dev/null 2>&1 || [ -x /usr/sbin/bpftool ] || missing+=(bpftool)
for header in bpf/libbpf.h gelf.h zlib.h linux/bpf.h; do
  if [ ! -f "/usr/include/$header" ]; then
    case $header in
      bpf/libbpf.h) missing+=(libbpf-dev) ;;
      gelf.h) missing+=(libelf-dev) ;;
      zlib.h) missing+=(zlib1g-dev) ;;
      linux/bpf.h) missing+=(linux-libc-dev) ;;
    esac
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null 2>&1; then
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo=(sudo); else
      echo "hcs: the eBPF toolchain is missing and installing it needs root: apt-get install ${missing[*]}" >&2
      exit 1
    fi
  fi
  echo "hcs: installing the eBPF toolchain with apt-get: ${missing[*]}" >&2
  if ! "${sudo[@]}" apt-get install -y -q "${missing[@]}" >/dev/null 2>&1; then
    "${sudo[@]}" apt-get update -q >/dev/null
    "${sudo[@]}" apt-get install -y -q "${missing[@]}" >/dev/null
  fi
  exit 0
fi
echo "hcs: native/ebpf needs ${missing[*]} (clang, bpftool, libbpf, libelf, zlib headers); install them and run make test again" >&2
exit 1
