// Source registry: source type -> implementation. Add a source by registering it here.
import { curlSource } from './curl.js';
import { inlineSource } from './inline.js';
import { librepoSource } from './librepo.js';
import { ostreeSource } from './ostree.js';
import type { SourceImpl } from './types.js';

export type { SourceContext, SourceDesc, SourceImpl } from './types.js';
export { ostreeRepo } from './ostree.js';

const registry = new Map<string, SourceImpl>();

export function registerSource(s: SourceImpl): void {
  registry.set(s.type, s);
}

export function getSource(type: string): SourceImpl | undefined {
  return registry.get(type);
}

export function sourceTypes(): string[] {
  return [...registry.keys()].sort();
}

for (const s of [curlSource, inlineSource, librepoSource, ostreeSource]) registerSource(s);
