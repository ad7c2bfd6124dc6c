// Submitting an image build to Koji: the hub call imageBuilderBuild(target, arches, types,
// name, version, opts[, priority]) of the koji-image-builder hub plugin.
//
// The opts struct is built the way the upstream CLI plugin (koji image-builder-build) builds
// it: `scratch` always present, every other key only when the user gave it, in the plugin's
// order. Differences from the plugin, on purpose: `--seed 0` is sent (the plugin drops it,
// a truthiness slip), `--bootc-installer-payload-ref` goes to `installer-payload-ref` (the
// plugin writes it to `build-ref`), `skip_tag` (allowed by the hub schema, no plugin flag)
// can be set, and the blueprint may be TOML (it is validated by Kiln's blueprint loader and
// sent as an object, as the plugin sends its JSON file).
//
// imageBuilderBuild creates a task, so it is never repeated blindly: if the connection fails
// after the request went out, the hub may or may not have made the task (see session.ts).
import { loadBlueprint } from '../blueprint/index.js';
import { KilnError } from '../util/errors.js';
import { ActionNotAllowed, KojiCallIndeterminateError, KojiFault, ParameterError } from './faults.js';
import type { KojiSession } from './session.js';
import type { XmlRpcStruct, XmlRpcValue } from './xmlrpc.js';

export interface ImageBuildRequest {
  target: string;
  name: string;
  version: string;
  /** one image type (the hub schema allows exactly one per task) */
  type: string;
  /** empty: the build tag's arches */
  arches?: string[];
  failableArches?: string[];
  repos?: string[];
  release?: string;
  scratch?: boolean;
  skipTag?: boolean;
  ostree?: { url?: string; ref?: string; parent?: string };
  bootc?: { ref?: string; buildRef?: string; installerPayloadRef?: string; defaultFs?: string };
  /** path of a blueprint file (.toml/.json) */
  blueprintFile?: string;
  seed?: number;
  /** undefined: the distro's default; true/false override */
  preview?: boolean;
  distro?: string;
  /** task priority: Kiln's hub plugin applies it; the upstream koji-image-builder plugin checks it, then drops it */
  priority?: number;
}

// Koji arch names are plain words (x86_64, aarch64, ppc64le, s390x, riscv64, noarch...).
const ARCH_RE = /^[A-Za-z0-9_]+$/;

function checkArches(list: string[], flag: string): void {
  const seen = new Set<string>();
  for (const a of list) {
    if (!ARCH_RE.test(a)) {
      const hint = /[,\s]/.test(a) ? ` (give ${flag} once per architecture)` : '';
      throw new KilnError(`${flag} ${JSON.stringify(a)}: not an architecture name${hint}`);
    }
    if (seen.has(a)) throw new KilnError(`${flag} ${a} is given twice`);
    seen.add(a);
  }
}

function nonEmpty(v: string, what: string): void {
  if (typeof v !== 'string' || v.trim() === '') throw new KilnError(`${what} must not be empty`);
}

/** The opts struct for imageBuilderBuild, built like the upstream CLI plugin. */
export function buildTaskOpts(req: ImageBuildRequest): XmlRpcStruct {
  const opts: XmlRpcStruct = { scratch: !!req.scratch };
  const ostree: XmlRpcStruct = {};
  if (req.ostree?.parent) ostree.parent = req.ostree.parent;
  if (req.ostree?.ref) ostree.ref = req.ostree.ref;
  if (req.ostree?.url) ostree.url = req.ostree.url;
  if (Object.keys(ostree).length) opts.ostree = ostree;
  const bootc: XmlRpcStruct = {};
  if (req.bootc?.ref) bootc.ref = req.bootc.ref;
  if (req.bootc?.buildRef) bootc['build-ref'] = req.bootc.buildRef;
  if (req.bootc?.installerPayloadRef) bootc['installer-payload-ref'] = req.bootc.installerPayloadRef;
  if (req.bootc?.defaultFs) bootc['default-fs'] = req.bootc.defaultFs;
  if (Object.keys(bootc).length) opts.bootc = bootc;
  if (req.repos?.length) {
    for (const r of req.repos) nonEmpty(r, '--repo');
    opts.repos = [...req.repos];
  }
  if (req.release) opts.release = req.release;
  if (req.distro) opts.distro = req.distro;
  if (req.seed !== undefined) {
    if (!Number.isSafeInteger(req.seed)) throw new KilnError(`--seed ${req.seed}: must be an integer`);
    opts.seed = req.seed;
  }
  if (req.preview !== undefined) opts.preview = req.preview;
  if (req.blueprintFile !== undefined) {
    // loadBlueprint names the file and the key of any problem; the JSON round trip drops
    // keys the loader left undefined (XML-RPC would send them as nil).
    opts.blueprint = JSON.parse(JSON.stringify(loadBlueprint(req.blueprintFile))) as XmlRpcStruct;
  }
  if (req.failableArches?.length) opts.failable_arches = [...req.failableArches];
  if (req.skipTag) opts.skip_tag = true;
  return opts;
}

/** Check a request and return the positional parameters of the imageBuilderBuild call. */
export function imageBuilderBuildParams(req: ImageBuildRequest): XmlRpcValue[] {
  nonEmpty(req.target, 'build target');
  nonEmpty(req.name, 'name');
  nonEmpty(req.version, 'version');
  nonEmpty(req.type, 'image type');
  const arches = req.arches ?? [];
  checkArches(arches, '--arch');
  const failable = req.failableArches ?? [];
  checkArches(failable, '--failable-arch');
  if (arches.length) {
    const stray = failable.filter((a) => !arches.includes(a));
    if (stray.length) throw new KilnError(`--failable-arch ${stray.join(', ')}: not among the --arch values (${arches.join(', ')}), so it would never be built`);
  }
  if (req.priority !== undefined && !Number.isSafeInteger(req.priority)) throw new KilnError(`--priority ${req.priority}: must be an integer`);
  const params: XmlRpcValue[] = [req.target, [...arches], [req.type], req.name, req.version, buildTaskOpts(req)];
  if (req.priority !== undefined) params.push(req.priority);
  return params;
}

/**
 * Make sure the target exists and its build tag has the requested arches before creating a
 * task: the hub's imageBuilderBuild checks neither, so a typo would otherwise surface only as
 * a failed task on a build host ("No such build target", "Unsupported architecture(s)").
 */
export async function checkTarget(session: KojiSession, target: string, arches: string[] = []): Promise<void> {
  const info = await session.call('getBuildTarget', target);
  if (info === null || info === undefined || typeof info !== 'object' || Array.isArray(info)) {
    throw new KilnError(`Koji hub ${session.hub}: build target "${target}" does not exist (see \`koji list-targets\`)`);
  }
  const t = info as XmlRpcStruct;
  if (!arches.length || t.build_tag === undefined) return;
  const cfg = (await session.call('getBuildConfig', t.build_tag)) as XmlRpcStruct | null;
  const tagArches = typeof cfg?.arches === 'string' ? cfg.arches.split(/\s+/).filter(Boolean) : [];
  // no arches on the tag: the builder reports that itself
  if (!tagArches.length) return;
  const missing = arches.filter((a) => !tagArches.includes(a));
  if (missing.length) {
    throw new KilnError(`--arch ${missing.join(', ')}: not an architecture of build tag ${t.build_tag_name ?? t.build_tag} of target ${target} (${tagArches.join(' ')})`);
  }
}

/** Create the task. Returns the task id. Never sends the call twice. */
export async function submitImageBuild(session: KojiSession, params: XmlRpcValue[]): Promise<number> {
  let id: XmlRpcValue;
  try {
    id = await session.call('imageBuilderBuild', ...params);
  } catch (e) {
    if (e instanceof KojiCallIndeterminateError) {
      throw new KilnError(
        `${e.message}.\nThe build task may already exist on the hub. Do not submit again blindly: look for it with ` +
          `\`koji list-tasks --mine --method imageBuilderBuild\` (or the Koji web UI), then follow it with \`kiln koji watch TASK_ID\`.`,
      );
    }
    if (e instanceof ActionNotAllowed) {
      throw new KilnError(`${e.message}\n(the Koji user needs the "image" or "admin" permission to submit image builds)`);
    }
    if (e instanceof ParameterError) throw new KilnError(`the hub rejected the build request: ${e.message}`);
    if (e instanceof KojiFault) throw e;
    throw e;
  }
  if (typeof id !== 'number' || !Number.isInteger(id)) {
    throw new KilnError(`Koji hub ${session.hub}: imageBuilderBuild returned ${JSON.stringify(id)} instead of a task id`);
  }
  return id;
}
