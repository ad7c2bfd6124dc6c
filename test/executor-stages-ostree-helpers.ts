// Test helper for the ostree/installer stage tests: a tree with a working /bin/sh (the host's
// dash and the libc it needs) and a fake dracut script, so stages that chroot into the tree and
// run its dracut can be exercised without a distribution tree.
import fs from 'node:fs';
import path from 'node:path';

function copyReal(src: string, root: string, at: string): void {
  const dst = path.join(root, at);
  fs.mkdirSync(path.dirname(dst), { recursive: true });
  fs.copyFileSync(fs.realpathSync(src), dst);
  fs.chmodSync(dst, 0o755);
}

/** Give `root` a /bin/sh (host dash + libc + loader, merged-/usr layout) if the host has them. */
export function installShell(root: string): boolean {
  const need = ['/bin/sh', '/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2'];
  if (!need.every((p) => fs.existsSync(p))) return false;
  copyReal('/bin/sh', root, 'usr/bin/sh');
  copyReal('/lib/x86_64-linux-gnu/libc.so.6', root, 'usr/lib/x86_64-linux-gnu/libc.so.6');
  copyReal('/lib64/ld-linux-x86-64.so.2', root, 'usr/lib64/ld-linux-x86-64.so.2');
  // the loader path is absolute in every binary; libc is found through the default search path
  fs.mkdirSync(path.join(root, 'usr/lib/x86_64-linux-gnu'), { recursive: true });
  for (const [l, t] of [['bin', 'usr/bin'], ['lib', 'usr/lib'], ['lib64', 'usr/lib64']] as const) if (!fs.existsSync(path.join(root, l))) fs.symlinkSync(t, path.join(root, l));
  return true;
}

/**
 * A /usr/bin/dracut that records its arguments: with an explicit output file (the last
 * argument ending in .img) it writes them there, else into /boot/initramfs-<kver>.img.
 */
export function installFakeDracut(root: string): void {
  const script = [
    '#!/bin/sh',
    'kver=""; out=""; prev=""',
    'for a in "$@"; do',
    '  if [ "$prev" = "--kver" ]; then kver="$a"; fi',
    '  case "$a" in *.img) out="$a";; esac',
    '  prev="$a"',
    'done',
    'if [ -z "$out" ]; then out="/boot/initramfs-$kver.img"; fi',
    'echo "fake dracut $*" > "$out"',
    '',
  ].join('\n');
  fs.mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
  fs.writeFileSync(path.join(root, 'usr/bin/dracut'), script, { mode: 0o755 });
}
