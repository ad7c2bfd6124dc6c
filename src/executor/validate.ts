// Check a whole manifest against what this executor can run BEFORE anything runs: every stage,
// input, device, mount and source type must have an implementation, and every stage's options
// must make sense. Errors name the pipeline, the stage (index and type) and the problem.
import type { Manifest } from '../manifest/types.js';
import { KilnError } from '../util/errors.js';
import { getDevice } from './devices.js';
import { validateInput } from './inputs.js';
import { getMount } from './mounts.js';
import { getSource } from './sources/index.js';
import { getStage } from './stages/index.js';

export function stageWhat(pipeline: string, index: number, type: string): string {
  return `pipeline "${pipeline}", stage ${index + 1} (${type})`;
}

/** Throws a KilnError listing every problem found (one a line). */
export function validateManifest(manifest: Manifest, exports: string[] = []): void {
  const problems: string[] = [];
  const attempt = (fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      problems.push((err as Error).message);
    }
  };
  if (!manifest || typeof manifest !== 'object') throw new KilnError('manifest: not an object');
  if (manifest.version !== '2') throw new KilnError(`manifest: version "${String(manifest.version)}" is not supported (only "2")`);
  if (!Array.isArray(manifest.pipelines)) throw new KilnError('manifest: "pipelines" must be an array');

  const sourceItems = new Map<string, string>();
  for (const [type, desc] of Object.entries(manifest.sources ?? {})) {
    const impl = getSource(type);
    if (!impl) {
      problems.push(`sources: no implementation for source type "${type}"`);
      continue;
    }
    attempt(() => impl.validate(desc));
    const items = desc.items ?? (desc as unknown as { urls?: object; commits?: object }).urls ?? (desc as unknown as { commits?: object }).commits ?? {};
    for (const k of Object.keys(items)) sourceItems.set(k, type);
  }

  const earlier = new Set<string>();
  for (const p of manifest.pipelines) {
    if (typeof p.name !== 'string' || !p.name) {
      problems.push('manifest: a pipeline has no name');
      continue;
    }
    if (earlier.has(p.name)) problems.push(`pipeline "${p.name}": declared twice`);
    if (p.build !== undefined) {
      if (!p.build.startsWith('name:') || !earlier.has(p.build.slice(5))) problems.push(`pipeline "${p.name}": build "${p.build}" names no pipeline declared before it`);
    }
    (p.stages ?? []).forEach((stage, i) => {
      const what = stageWhat(p.name, i, stage.type);
      const impl = getStage(stage.type);
      if (!impl) {
        problems.push(`${what}: no implementation for stage type "${stage.type}"`);
        return;
      }
      for (const [name, inp] of Object.entries(stage.inputs ?? {})) attempt(() => validateInput(name, inp, what, { earlier, sourceItems }));
      for (const [name, dev] of Object.entries(stage.devices ?? {})) {
        const d = getDevice(dev.type);
        if (!d) problems.push(`${what}: device "${name}": no implementation for device type "${dev.type}"`);
        else attempt(() => d.validate(name, dev, what));
        if (dev.parent && !stage.devices?.[dev.parent]) problems.push(`${what}: device "${name}": parent "${dev.parent}" is not a device of the stage`);
      }
      const mountNames = new Set<string>();
      for (const m of stage.mounts ?? []) {
        if (mountNames.has(m.name)) problems.push(`${what}: mount "${m.name}" is declared twice`);
        mountNames.add(m.name);
        const impl2 = getMount(m.type);
        if (!impl2) problems.push(`${what}: mount "${m.name}": no implementation for mount type "${m.type}"`);
        else attempt(() => impl2.validate(m, what));
        if (m.source && !stage.devices?.[m.source]) problems.push(`${what}: mount "${m.name}": source "${m.source}" is not a device of the stage`);
      }
      if (impl.validate) attempt(() => impl.validate!(stage, what));
    });
    earlier.add(p.name);
  }
  for (const e of exports) if (!earlier.has(e)) problems.push(`export "${e}": no pipeline of that name in the manifest`);
  if (problems.length) throw new KilnError(problems.length === 1 ? problems[0]! : `manifest has ${problems.length} problems:\n  ${problems.join('\n  ')}`);
}
