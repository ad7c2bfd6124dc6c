#!/usr/bin/env bash
# Install what Kiln and its tests need on a fresh Debian or Fedora machine, then the Node
# dependencies and the compiled JS. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

debian_pkgs=(rpm createrepo-c python3-solv ostree xz-utils zstd fdisk dosfstools e2fsprogs
  qemu-utils bubblewrap squashfs-tools xorriso util-linux cpio gzip tar python3-jsonschema mtools policycoreutils grub-pc-bin erofs-utils isomd5sum
  file gnupg openssl passwd systemd)
fedora_pkgs=(rpm-build createrepo_c python3-solv ostree xz zstd util-linux dosfstools e2fsprogs
  qemu-img bubblewrap squashfs-tools xorriso cpio gzip tar nodejs npm python3-jsonschema mtools policycoreutils grub2-tools grub2-pc-modules erofs-utils isomd5sum
  file gnupg2 openssl shadow-utils systemd)

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${debian_pkgs[@]}" >/dev/null
  command -v node >/dev/null 2>&1 || as_root apt-get install -y -qq nodejs npm >/dev/null
elif command -v dnf >/dev/null 2>&1; then
  as_root dnf install -y -q "${fedora_pkgs[@]}"
else
  echo "setup.sh: neither apt-get nor dnf found; install rpm-build, createrepo_c, python3-solv, ostree, xz, zstd by hand" >&2
fi

npm ci --no-audit --no-fund
npm run build
