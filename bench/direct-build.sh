#!/bin/bash
# The "direct" peer of bench/build.bench.ts: the unavoidable work of `kiln build minimal-raw-xz`,
# done by a plain script with the same tools and the same inputs, so the bench can say how much
# Kiln adds on top.
#
#   direct-build.sh PLAN_DIR WORK_DIR OUT_FILE
#
# PLAN_DIR is written by the bench from Kiln's own saved manifest (nothing here is decided by
# this script):
#   build.list, os.list   "<sha256-hex> <absolute path of the rpm in the file:// repo>" per line,
#                         in manifest order (the build-root set, the OS set)
#   plan.env              IMAGE_SIZE (bytes), XZ_ARGS (Kiln's xz flags, minus the file)
#   sfdisk.txt            the partition table as an sfdisk script
#   fs.list               "<fstype> <start-sector> <sectors> <uuid|volid> <label> <mountpoint>"
#                         per file system, parents before children
#
# Prints "STEP <name> <ms>" lines on stdout. Always detaches its loop devices and unmounts
# what it mounted, also on failure.
set -euo pipefail
PLAN=$1 WORK=$2 OUT=$3
# shellcheck disable=SC1091
source "$PLAN/plan.env"

loops=() mounts=()
cleanup() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" 2>/dev/null || true; done
  for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null || true; done
}
trap cleanup EXIT

t_last=$(date +%s%N)
step() { local now; now=$(date +%s%N); echo "STEP $1 $(((now - t_last) / 1000000))"; t_last=$now; }

mkdir -p "$WORK/dl" "$WORK/build" "$WORK/os" "$WORK/mnt"

# 1. "download": copy every package of both sets out of the file:// repository, verify sha256
#    (Kiln's librepo source copies into its store and verifies the pinned checksum too).
sort -u "$PLAN/build.list" "$PLAN/os.list" | while read -r sum path; do
  cp "$path" "$WORK/dl/$sum.rpm"
  echo "$sum  $WORK/dl/$sum.rpm"
done >"$WORK/dl.sha256"
[[ -s $WORK/dl.sha256 ]] && sha256sum --quiet -c "$WORK/dl.sha256"
step download

# 2. rpm installs: the build root (Kiln builds the `build` pipeline even with --buildroot host:
#    its rpm stage runs, only its programs are not used) and the OS tree. Same flags as Kiln's
#    org.osbuild.rpm stage with empty options.
rpm_install() {
  local root=$1 list=$2 files=()
  while read -r sum _; do files+=("$WORK/dl/$sum.rpm"); done <"$list"
  ((${#files[@]})) || return 0
  rpm --verbose --root "$root" --dbpath /usr/lib/sysimage/rpm --nosignature --install "${files[@]}" >/dev/null 2>&1
}
rpm_install "$WORK/build" "$PLAN/build.list"
step rpm-build-root
rpm_install "$WORK/os" "$PLAN/os.list"
step rpm-os

# 3. the disk: sparse file, partition table, file systems on loop devices at the partitions'
#    offsets (as Kiln's org.osbuild.loopback device does).
IMG=$WORK/disk.img
truncate --size "$IMAGE_SIZE" "$IMG"
loop=$(losetup --show --find "$IMG"); loops+=("$loop")
sfdisk --no-reread --no-tell-kernel "$loop" <"$PLAN/sfdisk.txt" >/dev/null
losetup -d "$loop"; loops=()
declare -A dev
while read -r fstype start size id label mp; do
  l=$(losetup --show --find --offset $((start * 512)) --sizelimit $((size * 512)) "$IMG"); loops+=("$l")
  dev[$mp]=$l
  case $fstype in
    vfat) mkfs.fat -I -i "$id" -n "$label" "$l" >/dev/null ;;
    ext4) mkfs.ext4 -q -F -U "$id" -L "$label" "$l" ;;
    *) echo "direct-build.sh: file system type $fstype is not supported" >&2; exit 2 ;;
  esac
done <"$PLAN/fs.list"
step disk-mkfs

# 4. copy the tree in: ext4 file systems mounted by the kernel; FAT through mtools when the
#    kernel has no vfat (this machine's has none; Kiln does the same: a tmpfs staged at the
#    mount point, written into the FAT file system with mcopy afterwards).
fat=()
while read -r fstype _ _ _ _ mp; do
  at=$WORK/mnt${mp%/}
  mkdir -p "$at"
  if [[ $fstype == vfat ]] && ! grep -qw vfat /proc/filesystems; then
    mount -t tmpfs tmpfs "$at"; mounts+=("$at"); fat+=("${dev[$mp]} $at")
  else
    mount -t "$fstype" "${dev[$mp]}" "$at"; mounts+=("$at")
  fi
done <"$PLAN/fs.list"
cp -a --reflink=auto "$WORK/os/." "$WORK/mnt/"
for f in "${fat[@]}"; do
  read -r d at <<<"$f"
  shopt -s nullglob dotglob; entries=("$at"/*); shopt -u nullglob dotglob
  if ((${#entries[@]})); then (cd "$at" && mcopy -s -p -m -o -Q -i "$d" "${entries[@]##*/}" ::/); fi
done
cleanup; loops=() mounts=()
step copy

# 5. compress with Kiln's xz flags
# shellcheck disable=SC2086
xz $XZ_ARGS "$IMG" >"$OUT"
step xz
