#!/usr/bin/env bash
# Kiln's main job on a fresh machine, with no Fedora mirror: install dependencies, build the
# built-in Fedora-shaped repository, and generate the Fedora 42 Minimal (raw, xz) manifest for
# this machine's arch from it, depsolved against that repository.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
arch=$(uname -m)
out=${KILN_QUICKSTART_OUT:-quickstart-output}
mkdir -p "$out"
repo=$(node bin/kiln.js demo-repo --arch "$arch" | awk -v a="$arch" '$1 == a { print $2 }')
node bin/kiln.js manifest minimal-raw-xz --distro fedora-42 --arch "$arch" --force-repo "$repo" --seed 1 \
  > "$out/fedora-42-minimal-raw-xz-$arch.osbuild-manifest.json"
echo "demo repository: $repo"
echo "manifest:        $out/fedora-42-minimal-raw-xz-$arch.osbuild-manifest.json"
node -e 'const m=require(process.argv[1]); for (const p of m.pipelines) console.log(`  pipeline ${p.name}: ${p.stages.map(s=>s.type.replace("org.osbuild.","")).join(", ")}`)' \
  "$(realpath "$out/fedora-42-minimal-raw-xz-$arch.osbuild-manifest.json")"
