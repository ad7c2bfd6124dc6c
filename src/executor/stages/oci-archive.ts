// org.osbuild.oci-archive: an OCI image archive (a tar of an OCI image layout) from tree inputs:
// `base`, then `layer.1`, `layer.2`, ... as layers. Each layer is a POSIX tar (sorted, numeric
// owners, xattrs/ACLs kept, no SELinux labels) compressed with gzip -n; the layout has
// blobs/sha256/<digest> for layers, the image config and the manifest, plus index.json and
// oci-layout. Timestamps come from the pipeline's source epoch when set, so the same tree gives
// the same archive.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '../../util/errors.js';
import type { StageContext, StageImpl } from './types.js';
import { allowKeys, checkObject, checkString, checkStringArray, isObj, optionsOf, sourceEpoch } from './os-util.js';
import { treePath } from './util.js';

const MEDIA = {
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
};
const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const CONFIG_KEYS = ['Cmd', 'Entrypoint', 'Env', 'ExposedPorts', 'User', 'Labels', 'StopSignal', 'StopSiganl', 'Volumes', 'WorkingDir'];
const OSTREE_ANNOTATIONS = ['org.osbuild.ostree.layer', 'org.osbuild.ostree.repo', 'org.osbuild.ostree.ref'];
// pax headers named without the pid (tar's default name has it), atime/ctime dropped: reproducible
const PAX = 'exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime';

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

/** The image config's `config` object from the stage's `config` option (exported for tests). */
export function imageConfig(c: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { Env: c.Env ?? [DEFAULT_PATH], Cmd: c.Cmd ?? ['sh'] };
  for (const k of ['Entrypoint', 'User', 'Labels', 'WorkingDir']) {
    const v = c[k];
    if (v !== undefined && !(Array.isArray(v) && v.length === 0) && v !== '') out[k] = v;
  }
  // the schema spells it StopSiganl; accept both spellings
  const stop = c.StopSignal ?? c.StopSiganl;
  if (stop) out.StopSignal = stop;
  // Go's map[string]struct{} fields are given as lists
  for (const k of ['ExposedPorts', 'Volumes']) {
    const v = c[k] as string[] | undefined;
    if (v?.length) out[k] = Object.fromEntries(v.map((x) => [x, {}]));
  }
  return out;
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Inputs in layer order: base, then layer.N by N. */
export function layerOrder(names: string[]): string[] {
  const n = (s: string): number => (s === 'base' ? 0 : Number(s.slice('layer.'.length)));
  return [...names].sort((a, b) => n(a) - n(b));
}

export const ociArchiveStage: StageImpl = {
  type: 'org.osbuild.oci-archive',
  validate(stage, what) {
    const o = optionsOf(stage);
    allowKeys(o, ['architecture', 'variant', 'filename', 'config', 'annotations'], what);
    checkString(o.architecture, 'architecture', what, { required: true, nonEmpty: true });
    checkString(o.variant, 'variant', what);
    checkString(o.filename, 'filename', what, { required: true, re: /^[^/]+$/ });
    if (checkObject(o.config, 'config', what)) {
      const c = o.config;
      allowKeys(c, CONFIG_KEYS, what, 'option config.');
      for (const k of ['Cmd', 'Entrypoint', 'Env', 'ExposedPorts', 'Volumes']) checkStringArray(c[k], `config.${k}`, what);
      for (const k of ['User', 'StopSignal', 'StopSiganl', 'WorkingDir']) checkString(c[k], `config.${k}`, what);
      if (c.Labels !== undefined && (!isObj(c.Labels) || Object.values(c.Labels).some((v) => typeof v !== 'string'))) throw new KilnError(`${what}: option "config.Labels" must be an object of strings`);
    }
    if (checkObject(o.annotations, 'annotations', what)) {
      for (const [k, v] of Object.entries(o.annotations)) {
        if (/^(org\.osbuild|org\.opencontainer)/.test(k) && !OSTREE_ANNOTATIONS.includes(k)) throw new KilnError(`${what}: option "annotations": "${k}" is in a reserved namespace (org.osbuild, org.opencontainer)`);
        if (typeof v !== 'string') throw new KilnError(`${what}: option "annotations.${k}" must be a string`);
      }
    }
    const inputs = stage.inputs ?? {};
    if (!inputs.base) throw new KilnError(`${what}: input "base" is required (the tree to put in the image)`);
    for (const [name, inp] of Object.entries(inputs)) {
      if (name !== 'base' && !/^layer\.[1-9]\d*$/.test(name)) throw new KilnError(`${what}: input "${name}" is not allowed (base, layer.1, layer.2, ...)`);
      if (inp.type !== 'org.osbuild.tree') throw new KilnError(`${what}: input "${name}" must be an org.osbuild.tree input, not ${inp.type}`);
    }
  },
  async run(ctx) {
    const o = ctx.options as { architecture: string; variant?: string; filename: string; config?: Record<string, unknown>; annotations?: Record<string, string> };
    for (const t of ['tar', 'gzip']) if (!ctx.buildroot.hasTool(t)) throw new KilnError(`${ctx.what}: ${t} is not in the build root (needed to write the OCI archive)`);
    const fixed = await sourceEpoch(ctx);
    const epoch = fixed ?? Math.floor(Date.now() / 1000);
    // with a source epoch, layer mtimes newer than it are clamped to it (reproducible layers;
    // osbuild keeps the tree's mtimes as they are)
    const clamp = fixed;
    // Python's isoformat() of an aware UTC time, as osbuild writes `created`
    const created = new Date(epoch * 1000).toISOString().replace(/\.\d{3}Z$/, '+00:00');
    // working files live in the tree (writable in every build root) and go away after
    const work = mkdtempSync(join(ctx.tree, '.kiln-oci-'));
    try {
      const out = join(work, 'output');
      const blobs = join(out, 'blobs/sha256');
      mkdirSync(blobs, { recursive: true });
      const addBlob = async (file: string, mediaType: string): Promise<Descriptor> => {
        const hex = await sha256File(file);
        const size = statSync(file).size;
        renameSync(file, join(blobs, hex));
        return { mediaType, digest: `sha256:${hex}`, size };
      };
      const addJson = (obj: unknown, mediaType: string): Promise<Descriptor> => {
        const f = join(work, 'blob.json');
        writeFileSync(f, JSON.stringify(obj));
        return addBlob(f, mediaType);
      };

      const layers: Descriptor[] = [];
      const diffIds: string[] = [];
      const history: { created: string; created_by: string }[] = [];
      for (const name of layerOrder(Object.keys(ctx.inputs))) {
        const { diffId, desc } = await makeLayer(ctx, ctx.inputs[name]!.path, work, name, addBlob, clamp);
        layers.push(desc);
        diffIds.push(diffId);
        history.push({ created, created_by: `/bin/sh -c #(nop) osbuild input '${name}'` });
      }
      const config: Record<string, unknown> = {
        created,
        architecture: o.architecture,
        os: 'linux',
        config: imageConfig(o.config ?? {}),
        rootfs: { type: 'layers', diff_ids: diffIds },
        history,
      };
      if (o.variant) config.variant = o.variant;
      const manifest: Record<string, unknown> = { schemaVersion: 2, mediaType: MEDIA.manifest, config: await addJson(config, MEDIA.config), layers };
      if (o.annotations && Object.keys(o.annotations).length) manifest.annotations = o.annotations;
      const manifestDesc = await addJson(manifest, MEDIA.manifest);
      writeFileSync(join(out, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.index, manifests: [manifestDesc] }));
      writeFileSync(join(out, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));

      const archive = treePath(ctx, o.filename);
      rmSync(archive, { force: true });
      await ctx.run(
        ['tar', '--sort=name', '--no-selinux', '--no-xattrs', '--no-acls', '--owner=0', '--group=0', '--numeric-owner', '--mode=go=rX,u+rw,a-s', '--format=posix', `--mtime=@${epoch}`, '--pax-option', PAX, '-cf', ctx.toSandbox(archive), '-C', ctx.toSandbox(out), ...readdirSync(out).sort()],
        { what: `${ctx.what}: writing ${o.filename}` },
      );
      if (!existsSync(archive)) throw new KilnError(`${ctx.what}: the build root's tar exited successfully but wrote no ${o.filename} (is it a placeholder?)`);
      ctx.setMetadata({ 'oci.manifest': manifestDesc.digest });
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  },
};

async function makeLayer(ctx: StageContext, tree: string, work: string, name: string, addBlob: (f: string, m: string) => Promise<Descriptor>, clamp: number | undefined): Promise<{ diffId: string; desc: Descriptor }> {
  const layer = join(work, 'layer.tar');
  // the top-level entries, without "./" (an empty tree makes an empty archive)
  const entries = readdirSync(tree).sort();
  const args = ['tar', '--sort=name', '--no-selinux', '--acls', '--xattrs', '--xattrs-include=user.*', '--xattrs-include=security.ima', '--xattrs-include=security.capability', '--numeric-owner', '--format=posix', '--pax-option', PAX, ...(clamp !== undefined ? [`--mtime=@${clamp}`, '--clamp-mtime'] : []), '-cf', ctx.toSandbox(layer), '-C', ctx.toSandbox(tree)];
  await ctx.run(entries.length ? [...args, '--', ...entries] : [...args, '--files-from=/dev/null'], { what: `${ctx.what}: layer from input "${name}"` });
  if (!existsSync(layer)) throw new KilnError(`${ctx.what}: the build root's tar exited successfully but wrote no layer for input "${name}" (is it a placeholder?)`);
  const diffId = `sha256:${await sha256File(layer)}`;
  // -n: no file name or time in the gzip header (reproducible)
  await ctx.run(['gzip', '-n', '-S', '.gz', ctx.toSandbox(layer)], { what: `${ctx.what}: compressing layer "${name}"` });
  if (!existsSync(`${layer}.gz`)) throw new KilnError(`${ctx.what}: the build root's gzip exited successfully but did not compress layer "${name}" (is it a placeholder?)`);
  const desc = await addBlob(`${layer}.gz`, MEDIA.layer);
  return { diffId, desc };
}
