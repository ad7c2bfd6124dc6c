// Stage inputs: org.osbuild.files (source files by checksum, or one file of a pipeline's tree),
// org.osbuild.tree (a pipeline's tree, read-only), org.osbuild.ostree (commits pulled into a fresh
// repository, optionally with refs), org.osbuild.ostree.checkout (commits checked out), and
// org.osbuild.noop. Pipeline references are `name:<pipeline>`.
import { copyFileSync, existsSync, linkSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Input, Stage } from '../manifest/types.js';
import { KilnError } from '../util/errors.js';
import { inside } from './paths.js';
import { run } from './proc.js';
import { ResourceTracker, removeTreeSync } from './resources.js';
import { ostreeRepo } from './sources/index.js';
import type { Store } from './store.js';
import type { PreparedInput } from './stages/types.js';

export const INPUT_TYPES = ['org.osbuild.files', 'org.osbuild.tree', 'org.osbuild.ostree', 'org.osbuild.ostree.checkout', 'org.osbuild.noop'];

/** [reference, options] pairs, whatever the manifest's reference form. */
export function refsOf(input: Input, what: string): [string, Record<string, unknown>][] {
  const raw = input.references as unknown;
  if (Array.isArray(raw)) {
    return raw.map((r) => {
      if (typeof r === 'string') return [r, {}];
      if (r && typeof r === 'object' && typeof (r as { id?: unknown }).id === 'string') {
        const o = r as { id: string; options?: Record<string, unknown> };
        return [o.id, o.options ?? {}];
      }
      throw new KilnError(`${what}: invalid reference ${JSON.stringify(r)}`);
    });
  }
  if (raw && typeof raw === 'object') return Object.entries(raw as Record<string, Record<string, unknown> | null>).map(([k, v]) => [k, v ?? {}]);
  throw new KilnError(`${what}: "references" must be an array or an object`);
}

export interface InputCheckContext {
  /** pipelines declared before the current one */
  earlier: Set<string>;
  /** checksum/commit -> source type that provides it */
  sourceItems: Map<string, string>;
}

/** Check an input before anything runs. */
export function validateInput(name: string, input: Input, what: string, ctx: InputCheckContext): void {
  const w = `${what}: input "${name}"`;
  if (!INPUT_TYPES.includes(input.type)) throw new KilnError(`${w}: input type "${input.type}" is not supported`);
  if (input.origin !== 'org.osbuild.source' && input.origin !== 'org.osbuild.pipeline') throw new KilnError(`${w}: origin "${String(input.origin)}" is invalid`);
  const refs = refsOf(input, w);
  if (input.type === 'org.osbuild.noop') return;
  if (input.type === 'org.osbuild.tree') {
    if (input.origin !== 'org.osbuild.pipeline') throw new KilnError(`${w}: a tree input must come from a pipeline`);
    if (refs.length !== 1) throw new KilnError(`${w}: a tree input takes exactly one reference, got ${refs.length}`);
  }
  if (refs.length === 0) throw new KilnError(`${w}: no references`);
  for (const [ref] of refs) {
    if (input.origin === 'org.osbuild.pipeline') {
      if (!ref.startsWith('name:')) throw new KilnError(`${w}: pipeline reference "${ref}" must be name:<pipeline>`);
      if (!ctx.earlier.has(ref.slice(5))) throw new KilnError(`${w}: reference "${ref}" names no pipeline declared before this one`);
    } else {
      const src = ctx.sourceItems.get(ref);
      if (!src) throw new KilnError(`${w}: reference "${ref}" is not an item of any source in the manifest`);
      const want = input.type === 'org.osbuild.files' ? ['org.osbuild.curl', 'org.osbuild.inline', 'org.osbuild.librepo'] : ['org.osbuild.ostree'];
      if (!want.includes(src)) throw new KilnError(`${w}: reference "${ref}" comes from ${src}, which cannot feed a ${input.type} input`);
    }
  }
  if (input.type === 'org.osbuild.files' && input.origin === 'org.osbuild.pipeline') {
    for (const [ref, o] of refs) if (typeof o.file !== 'string') throw new KilnError(`${w}: pipeline reference "${ref}" needs options.file`);
  }
}

/** Source items (checksums, commits) the stage's inputs need, by source content. */
export function sourceRefs(stage: Stage): string[] {
  const out: string[] = [];
  for (const [name, inp] of Object.entries(stage.inputs ?? {})) {
    if (inp.origin === 'org.osbuild.source' && inp.type !== 'org.osbuild.noop') for (const [r] of refsOf(inp, `input "${name}"`)) out.push(r);
  }
  return out;
}

export interface InputEnv {
  store: Store;
  /** host path of a finished pipeline's tree */
  pipelineTree(name: string): string;
  tracker: ResourceTracker;
  signal: AbortSignal;
  what: string;
}

function scratch(env: InputEnv, prefix: string): string {
  const d = env.store.mkdtemp(prefix);
  env.tracker.add(`temp dir ${d}`, () => removeTreeSync(d));
  return d;
}

/** The commit an ostree pipeline produced: its compose.json (written by org.osbuild.ostree.commit). */
function pipelineCommit(tree: string, ref: string, what: string): { repo: string; commit: string } {
  const f = join(tree, 'compose.json');
  let commit: unknown;
  try {
    commit = (JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>)['ostree-commit'];
  } catch (err) {
    throw new KilnError(`${what}: pipeline "${ref}" has no readable compose.json (${(err as Error).message})`);
  }
  if (typeof commit !== 'string') throw new KilnError(`${what}: compose.json of pipeline "${ref}" names no ostree-commit`);
  return { repo: join(tree, 'repo'), commit };
}

async function prepareOne(name: string, input: Input, env: InputEnv): Promise<PreparedInput> {
  const w = `${env.what}: input "${name}"`;
  const refs = refsOf(input, w);
  const fromPipeline = input.origin === 'org.osbuild.pipeline';
  switch (input.type) {
    case 'org.osbuild.noop':
      return { type: input.type, path: scratch(env, 'input-noop') };
    case 'org.osbuild.tree': {
      const [ref] = refs[0]!;
      return { type: input.type, path: env.pipelineTree(ref.slice(5)) };
    }
    case 'org.osbuild.files': {
      if (fromPipeline) {
        const trees = new Set(refs.map(([r]) => r));
        if (trees.size > 1) throw new KilnError(`${w}: files from more than one pipeline in one input are not supported`);
        const tree = env.pipelineTree(refs[0]![0].slice(5));
        const files: Record<string, Record<string, unknown>> = {};
        for (const [ref, o] of refs) {
          const f = inside(tree, o.file as string, w);
          if (!existsSync(f)) throw new KilnError(`${w}: pipeline "${ref.slice(5)}" has no file "${String(o.file)}"`);
          files[(o.file as string).replace(/^\/+/, '')] = (o.metadata as Record<string, unknown>) ?? {};
        }
        return { type: input.type, path: tree, files };
      }
      const dir = scratch(env, 'input-files');
      const files: Record<string, Record<string, unknown>> = {};
      for (const [sum, o] of refs) {
        const src = env.store.sourcePath('org.osbuild.files', sum);
        if (!existsSync(src)) throw new KilnError(`${w}: source file ${sum} is not in the store`);
        try {
          linkSync(src, join(dir, sum)); // same filesystem: no copy
        } catch {
          copyFileSync(src, join(dir, sum));
        }
        files[sum] = (o.metadata as Record<string, unknown>) ?? {};
      }
      return { type: input.type, path: dir, files };
    }
    case 'org.osbuild.ostree':
    case 'org.osbuild.ostree.checkout': {
      const dir = scratch(env, 'input-ostree');
      const checkout = input.type === 'org.osbuild.ostree.checkout';
      const repo = join(dir, 'repo');
      if (!checkout) await run(['ostree', 'init', '--mode=archive', `--repo=${repo}`], { what: w, signal: env.signal });
      const out: Record<string, { ref?: string; path?: string }> = {};
      for (const [ref, o] of refs) {
        const { repo: srcRepo, commit } = fromPipeline ? pipelineCommit(env.pipelineTree(ref.slice(5)), ref, w) : { repo: ostreeRepo(env.store), commit: ref };
        if (checkout) {
          await run(['ostree', 'checkout', `--repo=${srcRepo}`, commit, join(dir, commit)], { what: `${w}: checking out ${commit}`, signal: env.signal });
          out[commit] = { path: commit };
        } else {
          await run(['ostree', `--repo=${repo}`, 'pull-local', srcRepo, commit], { what: `${w}: pulling ${commit}`, signal: env.signal });
          if (typeof o.ref === 'string') await run(['ostree', `--repo=${repo}`, 'refs', '--create', o.ref, commit], { what: w, signal: env.signal });
          out[commit] = typeof o.ref === 'string' ? { ref: o.ref } : {};
        }
      }
      return { type: input.type, path: checkout ? dir : repo, refs: out };
    }
    default:
      throw new KilnError(`${w}: input type "${input.type}" is not supported`);
  }
}

export async function prepareInputs(stage: Stage, env: InputEnv): Promise<Record<string, PreparedInput>> {
  const out: Record<string, PreparedInput> = {};
  for (const [name, inp] of Object.entries(stage.inputs ?? {})) out[name] = await prepareOne(name, inp, env);
  return out;
}
