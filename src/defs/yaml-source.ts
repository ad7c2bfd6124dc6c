// Parse one YAML definition file into plain JS values while remembering, for every key path,
// the line it came from. We convert the AST ourselves (instead of doc.toJS) so that aliases and
// `<<` merge keys keep pointing at real source lines, which every validation error must name.
import { LineCounter, parseDocument, isAlias, isMap, isScalar, isSeq, isPair, type Document, type Node } from 'yaml';
import { KilnError } from '../util/errors.js';

export interface SourceFile {
  /** path as shown in errors (relative to the definitions dir when possible) */
  file: string;
  value: unknown;
  /** key path (e.g. `image_types.minimal-raw-xz.platforms[0].arch`) -> 1-based line */
  lines: Map<string, number>;
}

export function joinKey(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

/** Line for a key path, falling back to the closest recorded ancestor. */
export function lineOf(src: SourceFile, path: string): number {
  let p = path;
  for (;;) {
    const l = src.lines.get(p);
    if (l !== undefined) return l;
    if (p === '') return 1;
    const cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
    p = cut <= 0 ? '' : p.slice(0, cut);
  }
}

export function parseYamlFile(file: string, text: string): SourceFile {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const msgs = doc.errors.map((e) => {
      const line = e.linePos?.[0]?.line ?? lc.linePos(e.pos[0]).line;
      return `${file}:${line}: YAML syntax error: ${e.message.split('\n')[0]}`;
    });
    throw new KilnError(msgs.join('\n'));
  }
  const lines = new Map<string, number>();
  const lineAt = (n: Node | null | undefined): number => (n?.range ? lc.linePos(n.range[0]).line : 1);
  const conv = new Converter(doc, file, lines, lineAt);
  lines.set('', 1);
  const value = conv.node(doc.contents as Node | null, '', 0);
  return { file, value, lines };
}

class Converter {
  constructor(
    private doc: Document,
    private file: string,
    private lines: Map<string, number>,
    private lineAt: (n: Node | null | undefined) => number,
  ) {}

  private deref(n: Node | null | undefined, path: string, depth: number): Node | null | undefined {
    let cur = n;
    let hops = 0;
    while (cur && isAlias(cur)) {
      if (++hops > 50 || depth > 200) throw new KilnError(`${this.file}:${this.lineAt(n)}: ${path}: alias nesting too deep`);
      const target = cur.resolve(this.doc) as Node | undefined;
      if (!target) throw new KilnError(`${this.file}:${this.lineAt(cur)}: ${path}: unknown alias *${cur.source}`);
      cur = target;
    }
    return cur;
  }

  private setLine(path: string, n: Node | null | undefined, keep: boolean): void {
    if (keep && this.lines.has(path)) return;
    this.lines.set(path, this.lineAt(n));
  }

  /** keep=true while converting a merged-in map: lines of explicit keys must not be overwritten. */
  node(n: Node | null | undefined, path: string, depth: number, keep = false): unknown {
    const real = this.deref(n, path, depth);
    if (real === null || real === undefined) return null;
    if (isScalar(real)) return real.value;
    if (isSeq(real)) {
      return real.items.map((item, i) => {
        const p = joinKey(path, i);
        this.setLine(p, item as Node, keep);
        return this.node(item as Node, p, depth + 1, keep);
      });
    }
    if (isMap(real)) {
      const out: Record<string, unknown> = {};
      const merges: Node[] = [];
      for (const pair of real.items) {
        if (!isPair(pair)) continue;
        const keyNode = pair.key as Node | null;
        const key = isScalar(keyNode) ? keyNode.value : undefined;
        if (key === '<<') {
          const v = this.deref(pair.value as Node, path, depth);
          if (v && isSeq(v)) merges.push(...(v.items as Node[]));
          else merges.push(pair.value as Node);
          continue;
        }
        if (typeof key !== 'string' && typeof key !== 'number' && typeof key !== 'boolean') {
          throw new KilnError(`${this.file}:${this.lineAt(keyNode)}: ${path || '(top level)'}: map keys must be plain scalars`);
        }
        const k = String(key);
        const p = joinKey(path, k);
        this.setLine(p, keyNode, keep);
        out[k] = this.node(pair.value as Node, p, depth + 1, keep);
      }
      // Merge keys: explicit keys win; among merged maps the earlier one wins.
      for (const m of merges) {
        const v = this.deref(m, path, depth);
        if (!v || !isMap(v)) {
          throw new KilnError(`${this.file}:${this.lineAt(m)}: ${path || '(top level)'}: "<<" must merge a mapping (or a list of mappings)`);
        }
        const merged = this.node(v, path, depth + 1, true) as Record<string, unknown>;
        for (const [k, val] of Object.entries(merged)) if (!(k in out)) out[k] = val;
      }
      return out;
    }
    throw new KilnError(`${this.file}:${this.lineAt(real)}: ${path}: unsupported YAML node`);
  }
}
