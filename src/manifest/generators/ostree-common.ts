// What the ostree generators share: which ostree ref/URL a request needs, the kernel command line
// of a deployment, blueprint users/groups in the shapes the users/groups/kickstart stages take.
import type { Blueprint } from '../../blueprint/types.js';
import type { ResolvedImageType } from '../../defs/types.js';
import { KilnError } from '../../util/errors.js';
import type { GeneratorRequest, ResolvedCommit, SerializeInput } from '../types.js';

// An ostree ref: slash-separated components of word characters, '-', '.' (ostree's own rule).
const REF_RE = /^(?:[\w\d][-._\w\d]*\/)*[\w\d][-._\w\d]*$/;

/**
 * Substitute `$arch` / `$basearch` (also `${arch}`) in a ref. Upstream leaves them in place
 * (image-builder-cli#165), which yields refs no server has; Kiln fills in the target arch.
 */
export function substituteArch(ref: string, arch: string): string {
  return ref.replace(/\$(?:\{(?:basearch|arch)\}|(?:basearch|arch)(?![\w]))/g, arch);
}

function checkRef(ref: string, what: string): string {
  if (!REF_RE.test(ref)) throw new KilnError(`${what}: "${ref}" is not a valid ostree ref`);
  return ref;
}

/** The ref the image's commit gets (commit types) or the deployment uses (disk/installer types). */
export function imageRef(req: GeneratorRequest): string {
  const it = req.imageType;
  if (req.ostree?.ref) return checkRef(substituteArch(req.ostree.ref, it.arch), '--ostree-ref');
  const ref = it.ostree?.ref;
  if (!ref) throw new KilnError(`image type ${it.name}: the definition has no ostree.ref and --ostree-ref was not given`);
  return checkRef(substituteArch(ref, it.arch), `image type ${it.name}: ostree.ref`);
}

/** Deployment/installer types: the commit to pull comes from --ostree-url or the definition's URL. */
export function deploymentSource(req: GeneratorRequest): { url: string; ref: string } {
  const it = req.imageType;
  const url = req.ostree?.url || it.ostree?.url;
  if (!url) {
    throw new KilnError(
      `image type ${it.name} deploys an ostree commit: --ostree-url is required (the definition has no ostree.url)`,
    );
  }
  if (req.ostree?.parent) {
    throw new KilnError(`image type ${it.name}: --ostree-parent only applies to commit-producing image types`);
  }
  return { url, ref: imageRef(req) };
}

/**
 * Commit types: a parent commit is resolved only when a repository is given. `--ostree-parent`
 * names the parent's ref (default: the image's own ref); it needs `--ostree-url`.
 */
export function parentSource(req: GeneratorRequest): { url: string; ref: string } | undefined {
  const it = req.imageType;
  const o = req.ostree;
  if (o?.parent && !o.url) {
    throw new KilnError(`image type ${it.name}: --ostree-parent "${o.parent}" needs --ostree-url to fetch the parent commit from`);
  }
  if (!o?.url) return undefined;
  const ref = o.parent ? checkRef(substituteArch(o.parent, it.arch), '--ostree-parent') : imageRef(req);
  return { url: o.url, ref };
}

/** The commit handed to serialize(); a deployment type cannot do without it. */
export function requireCommit(req: GeneratorRequest, input: SerializeInput): ResolvedCommit {
  if (!input.commit) {
    throw new KilnError(`image type ${req.imageType.name}: no resolved ostree commit was given to the manifest generator`);
  }
  return input.commit;
}

export interface OstreeNames {
  osname: string;
  remote: string;
}

export function ostreeNames(it: ResolvedImageType): OstreeNames {
  return { osname: it.ostree?.name ?? 'fedora', remote: it.ostree?.remote_name ?? it.ostree?.name ?? 'fedora' };
}

/** Split a blueprint `kernel.append` string into options. */
export function kernelAppend(bp: Blueprint): string[] {
  return (bp.customizations.kernel?.append ?? '').split(/\s+/).filter(Boolean);
}

/**
 * Kernel options of an ostree deployment: the image config's options, then ignition's platform id
 * and the `$ignition_firstboot` grub variable when the image uses ignition, then the blueprint's.
 */
export function deploymentKernelOpts(it: ResolvedImageType, bp: Blueprint): string[] {
  const opts = [...(it.image_config.kernel_options ?? [])];
  const add = (o: string) => {
    if (!opts.includes(o)) opts.push(o);
  };
  const platform = it.image_config.ignition_platform;
  if (platform) {
    if (!opts.some((o) => o.startsWith('ignition.platform.id='))) add(`ignition.platform.id=${platform}`);
    // the grub variable the ignition stage's /boot/ignition.firstboot sets on first boot only
    if (it.image_config['ignition_firstboot'] !== false) add('$ignition_firstboot');
  }
  for (const o of kernelAppend(bp)) add(o);
  return opts;
}

export function groupsOptions(bp: Blueprint): Record<string, { gid?: number }> | undefined {
  const gs = bp.customizations.group ?? [];
  if (!gs.length) return undefined;
  const out: Record<string, { gid?: number }> = {};
  for (const g of gs) out[g.name] = g.gid !== undefined ? { gid: g.gid } : {};
  return out;
}

/**
 * The ISO volume label, from the distro's `iso_label_tmpl`
 * (`{{.Product}}-{{.Distro.MajorVersion}}-{{.ISOLabel}}-{{.Arch}}` -> `Fedora-42-IoT-x86_64`).
 */
export function isoLabel(it: ResolvedImageType): string {
  // The definitions loader may already have rendered the template into iso_label.
  if (it.iso_label && it.iso_label.startsWith(`${it.distro.product}-`) && it.iso_label.endsWith(`-${it.arch}`)) return it.iso_label;
  const tmpl = it.distro.iso_label_tmpl || '{{.Product}}-{{.Distro.MajorVersion}}-{{.ISOLabel}}-{{.Arch}}';
  const values: Record<string, string> = {
    Product: it.distro.product,
    'Distro.MajorVersion': String(it.distro.major_version),
    'Distro.Name': it.distro.name,
    ISOLabel: it.iso_label ?? '',
    Arch: it.arch,
  };
  const label = tmpl.replace(/\{\{\s*\.([\w.]+)\s*\}\}/g, (_m, key: string) => {
    const v = values[key];
    if (v === undefined) throw new KilnError(`distro ${it.distro.name}: iso_label_tmpl uses unknown field {{.${key}}}`);
    return v;
  });
  return label.replace(/\s+/g, '-').replace(/--+/g, '-');
}

/** A string-list key of an untyped config map (installer_config, iso_config, image_config extras). */
export function cfgList(o: Record<string, unknown> | undefined, key: string): string[] | undefined {
  const v = o?.[key];
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
}

export function cfgString(o: Record<string, unknown> | undefined, key: string): string | undefined {
  const v = o?.[key];
  return typeof v === 'string' ? v : undefined;
}

export function cfgBool(o: Record<string, unknown> | undefined, key: string): boolean | undefined {
  const v = o?.[key];
  return typeof v === 'boolean' ? v : undefined;
}
