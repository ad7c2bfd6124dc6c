// comps.xml reader: groups (`@core`) and environments. Translations (xml:lang) are skipped;
// only the untranslated name/description are kept.
import type { CompsEnvironment, CompsGroup } from '../rpm/types.js';
import { KilnError } from '../util/errors.js';
import { parseXml, type XmlSource } from './xml.js';

type PkgType = CompsGroup['packages'][number]['type'];
// Elements whose text we keep; containers (packagelist, grouplist, optionlist) are not among them.
const LEAVES = new Set(['id', 'name', 'description', 'default', 'uservisible', 'packagereq', 'groupid']);
const PKG_TYPES = new Set<string>(['mandatory', 'default', 'optional', 'conditional']);

function bool(s: string, dflt: boolean): boolean {
  const t = s.trim().toLowerCase();
  if (t === 'true' || t === 'yes' || t === '1') return true;
  if (t === 'false' || t === 'no' || t === '0') return false;
  return dflt;
}

export async function parseComps(chunks: AsyncIterable<string> | Iterable<string>, src: XmlSource): Promise<{ groups: CompsGroup[]; environments: CompsEnvironment[] }> {
  const groups: CompsGroup[] = [];
  const environments: CompsEnvironment[] = [];
  const stack: string[] = [];
  let group: CompsGroup | undefined;
  let env: CompsEnvironment | undefined;
  let capturing = false;
  let buf = '';
  let lang: string | undefined;
  let reqType: PkgType = 'mandatory';
  let reqRequires: string | undefined;

  await parseXml(
    chunks,
    {
      open(name, a) {
        const parent = stack[stack.length - 1];
        stack.push(name);
        if (stack.length === 1) {
          if (name !== 'comps') throw new KilnError(`expected <comps> as the root element, found <${name}>`);
          return;
        }
        if (stack.length === 2) {
          if (name === 'group') group = { id: '', name: '', description: undefined, default: false, uservisible: true, packages: [] };
          else if (name === 'environment') env = { id: '', name: '', groups: [], options: [] };
          return;
        }
        if ((group || env) && LEAVES.has(name) && (parent === 'group' || parent === 'environment' || parent === 'packagelist' || parent === 'grouplist' || parent === 'optionlist')) {
          capturing = true;
          buf = '';
          lang = a['xml:lang'];
          if (name === 'packagereq') {
            const t = a.type ?? 'mandatory';
            if (!PKG_TYPES.has(t)) throw new KilnError(`group "${group?.id}": unknown packagereq type "${t}"`);
            reqType = t as PkgType;
            reqRequires = a.requires || undefined;
          }
        }
      },
      close(name) {
        stack.pop();
        if (capturing) {
          capturing = false;
          const v = buf.trim();
          if (group) {
            if (name === 'id') group.id = v;
            else if (name === 'name' && lang === undefined) group.name = v;
            else if (name === 'description' && lang === undefined) group.description = v || undefined;
            else if (name === 'default') group.default = bool(v, false);
            else if (name === 'uservisible') group.uservisible = bool(v, true);
            else if (name === 'packagereq') {
              const p: CompsGroup['packages'][number] = { name: v, type: reqType };
              if (reqRequires !== undefined) p.requires = reqRequires;
              group.packages.push(p);
            }
          } else if (env) {
            if (name === 'id') env.id = v;
            else if (name === 'name' && lang === undefined) env.name = v;
            else if (name === 'groupid') (stack[stack.length - 1] === 'optionlist' ? env.options : env.groups).push(v);
          }
          return;
        }
        if (stack.length === 1) {
          if (name === 'group' && group) {
            if (!group.id) throw new KilnError('<group> without <id>');
            groups.push(group);
            group = undefined;
          } else if (name === 'environment' && env) {
            if (!env.id) throw new KilnError('<environment> without <id>');
            environments.push(env);
            env = undefined;
          }
        }
      },
      text(t) {
        buf += t;
      },
      wantText: () => capturing,
    },
    src,
  );
  return { groups, environments };
}
