#!/usr/bin/env bash
# Kiln's main job on a fresh machine, with no Fedora mirror: install dependencies, build the
# built-in Fedora-shaped repository, and run a local compose of the Fedora Minimal and Fedora
# IoT images from it (real images, productmd metadata, CHECKSUM files).
set -euo pipefail
# loop devices and mounts need root: as another user, run again through sudo
if [ "$(id -u)" -ne 0 ]; then exec sudo -E bash "$0" "$@"; fi
cd "$(dirname "$0")/.."
bash scripts/setup.sh
arch=$(uname -m)
topdir=${KILN_QUICKSTART_TOPDIR:-$PWD/quickstart-composes}
repo_dir=$(node bin/kiln.js demo-repo --arch "$arch" | awk -v a="$arch" '$1 == a { print $2 }' | sed 's#^file://##; s#/'"$arch"'$##')
export KILN_DEMO_REPO="file://$repo_dir"
for config in ${KILN_QUICKSTART_CONFIGS:-configs/local-minimal.yaml configs/local-iot.yaml}; do
  node bin/kiln.js compose "$config" --topdir "$topdir" --buildroot host --incomplete-ok
done
echo "composes are in $topdir (see compose/metadata/images.json in each)"
