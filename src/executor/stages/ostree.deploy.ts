// org.osbuild.ostree.deploy: deploy a commit into the tree's sysroot with `ostree admin deploy`
// (stateroot `osname`), so the tree gets ostree/deploy/<osname>/deploy/<commit>.0, the kernel and
// initramfs under boot/ostree/ and a BLS entry in boot/loader/entries/.
//
// The commits of the `commits` input are first pulled into ostree/repo (under `remote` when given,
// so the deployment's origin says <remote>:<ref>). `rootfs` becomes root=UUID=... or root=LABEL=...
// and every `kernel_opts` entry is appended with --karg-append. Each of `mounts` (e.g. /boot,
// /boot/efi) is bind-mounted onto itself while ostree runs, so ostree sees them as separate file
// systems and writes boot paths relative to them, as on the installed system.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import { bindSelf, checkKeys, checkOpt, checkValue, ostreeInput, requireInputType, SYSROOT_ENV } from './ostree-util.js';
import type { StageImpl } from './types.js';
import { requireKeys, requireString } from './util.js';

interface Options {
  osname: string;
  ref?: string;
  remote?: string;
  mounts?: string[];
  kernel_opts?: string[];
  rootfs?: { uuid?: string; label?: string };
}

export const ostreeDeployStage: StageImpl = {
  type: 'org.osbuild.ostree.deploy',
  validate(stage, what) {
    requireKeys(stage, what, ['mounts', 'osname', 'kernel_opts', 'ref', 'remote', 'rootfs']);
    requireString(stage, 'osname', what);
    checkOpt(stage, 'ref', 'string', what);
    checkOpt(stage, 'remote', 'string', what);
    const mounts = checkOpt<string[]>(stage, 'mounts', 'string[]', what) ?? [];
    for (const m of mounts) if (!m.startsWith('/') || m === '/') throw new KilnError(`${what}: option "mounts": "${m}" must be an absolute path other than /`);
    checkOpt(stage, 'kernel_opts', 'string[]', what);
    const rootfs = checkOpt<Record<string, unknown>>(stage, 'rootfs', 'object', what);
    if (rootfs) {
      checkKeys(rootfs, ['uuid', 'label'], what, 'rootfs');
      const uuid = checkValue<string>(rootfs, 'uuid', 'string', what, 'rootfs.uuid');
      const label = checkValue<string>(rootfs, 'label', 'string', what, 'rootfs.label');
      if ((uuid === undefined) === (label === undefined)) throw new KilnError(`${what}: option "rootfs" needs exactly one of "uuid" and "label"`);
    }
    if (stage.inputs?.commits) requireInputType(stage, 'commits', ['org.osbuild.ostree'], what);
    else if (typeof stage.options?.ref !== 'string') throw new KilnError(`${what}: without a "commits" input, option "ref" is required`);
    const extra = Object.keys(stage.inputs ?? {}).filter((n) => n !== 'commits');
    if (extra.length) throw new KilnError(`${what}: unknown input(s) ${extra.join(', ')} (only "commits")`);
  },
  async run(ctx) {
    const o = ctx.options as unknown as Options;
    const sysroot = ctx.toSandbox(ctx.tree);
    const repo = join(ctx.tree, 'ostree/repo');
    if (!existsSync(join(repo, 'config'))) throw new KilnError(`${ctx.what}: the tree has no ostree/repo; run org.osbuild.ostree.init-fs first`);
    if (!existsSync(join(ctx.tree, 'ostree/deploy', o.osname))) throw new KilnError(`${ctx.what}: option "osname": stateroot "${o.osname}" does not exist; run org.osbuild.ostree.os-init first`);
    const kargs = [...(o.kernel_opts ?? [])];
    if (o.rootfs) kargs.push(o.rootfs.uuid ? `root=UUID=${o.rootfs.uuid}` : `root=LABEL=${o.rootfs.label}`);
    for (const m of o.mounts ?? []) await bindSelf(ctx, m);

    let ref = o.ref;
    if (ctx.inputs.commits) {
      const { repo: src, commits } = ostreeInput(ctx, 'commits');
      if (commits.length !== 1) throw new KilnError(`${ctx.what}: input "commits" must provide exactly one commit, it provides ${commits.length}`);
      const c = commits[0]!;
      const inRef = c.ref ?? c.commit;
      if (ref !== undefined && ref !== inRef) throw new KilnError(`${ctx.what}: option "ref" "${ref}" differs from the ref "${inRef}" of input "commits"`);
      ref = inRef;
      const args = ['ostree', 'pull-local', ctx.toSandbox(src), inRef];
      if (o.remote) args.push(`--remote=${o.remote}`);
      await ctx.run([...args, `--repo=${ctx.toSandbox(repo)}`], { what: `${ctx.what}: pulling ${inRef} (${c.commit})` });
    }
    const refspec = o.remote ? `${o.remote}:${ref}` : ref!;
    await ctx.run(['ostree', 'admin', 'deploy', refspec, ...kargs.map((k) => `--karg-append=${k}`), `--sysroot=${sysroot}`, `--os=${o.osname}`], {
      what: `${ctx.what}: deploying ${refspec}`,
      extraEnv: SYSROOT_ENV,
    });
  },
};
