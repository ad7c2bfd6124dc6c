// org.osbuild.ostree: pull commits into one archive repository in the store
// (sources/org.osbuild.ostree/repo) with the ostree CLI; `pull-local` for file:// remotes.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { KilnError } from '../../util/errors.js';
import { run } from '../proc.js';
import type { Store } from '../store.js';
import type { SourceContext, SourceDesc, SourceImpl } from './types.js';

const TYPE = 'org.osbuild.ostree';

interface Remote {
  url: string;
  contenturl?: string;
  gpgkeys?: string[];
  secrets?: unknown;
}

function itemsOf(desc: SourceDesc): Record<string, unknown> {
  return desc.items ?? ((desc as unknown as { commits?: Record<string, unknown> }).commits ?? {});
}

function remoteOf(item: string, v: unknown): Remote {
  const r = (v as { remote?: Remote } | null)?.remote;
  if (!r || typeof r.url !== 'string') throw new KilnError(`${TYPE} item ${item}: expected {remote: {url}}`);
  if (r.secrets) throw new KilnError(`${TYPE} item ${item}: "secrets" is not supported`);
  return r;
}

export function ostreeRepo(store: Store): string {
  return join(store.sourceDir(TYPE), 'repo');
}

async function hasCommit(repo: string, commit: string, signal?: AbortSignal): Promise<boolean> {
  if (!existsSync(join(repo, 'config'))) return false;
  // `show` fails for a commit the repository does not hold (rev-parse would echo any checksum)
  const r = await run(['ostree', `--repo=${repo}`, 'show', commit], { signal, okCodes: [0, 1] }).catch(() => undefined);
  return r?.code === 0;
}

export const ostreeSource: SourceImpl = {
  type: TYPE,
  contentType: TYPE,
  validate(desc) {
    for (const [item, v] of Object.entries(itemsOf(desc))) {
      if (!/^[0-9a-f]{64}$/.test(item)) throw new KilnError(`${TYPE} item "${item}": not a full ostree commit checksum (64 hex digits)`);
      remoteOf(item, v);
    }
  },
  cached(store: Store, item: string) {
    // a commit object file is the cheap existence check (objects/xx/yyyy.commit)
    return existsSync(join(store.sourcesDir, TYPE, 'repo', 'objects', item.slice(0, 2), `${item.slice(2)}.commit`));
  },
  async fetch(desc, wanted, ctx: SourceContext) {
    const items = itemsOf(desc);
    const repo = ostreeRepo(ctx.store);
    let downloaded = 0;
    // one ostree repo for all builds: serialize writers
    const unlock = await ctx.store.lock('ostree-repo', ctx.signal);
    try {
      if (!existsSync(join(repo, 'config'))) {
        mkdirSync(repo, { recursive: true });
        await run(['ostree', 'init', '--mode=archive', `--repo=${repo}`], { what: `${TYPE}: creating ${repo}`, signal: ctx.signal });
      }
      for (const commit of wanted) {
        if (await hasCommit(repo, commit, ctx.signal)) continue;
        const remote = remoteOf(commit, items[commit]);
        const what = `${TYPE}: commit ${commit} from ${remote.url}`;
        const started = Date.now();
        ctx.onEvent({ type: 'download-start', source: TYPE, item: commit, url: remote.url });
        if (remote.url.startsWith('file://') || remote.url.startsWith('/')) {
          const path = remote.url.startsWith('/') ? remote.url : fileURLToPath(remote.url);
          const args = ['ostree', `--repo=${repo}`, 'pull-local'];
          if (remote.gpgkeys?.length) args.push('--gpg-verify');
          await run([...args, path, commit], { what, signal: ctx.signal });
        } else {
          const name = `kiln-${randomBytes(6).toString('hex')}`;
          const args = ['ostree', `--repo=${repo}`, 'remote', 'add', `--set=gpg-verify=${remote.gpgkeys?.length ? 'true' : 'false'}`];
          if (remote.contenturl) args.push(`--set=contenturl=${remote.contenturl}`);
          await run([...args, name, remote.url], { what, signal: ctx.signal });
          try {
            for (const [i, key] of (remote.gpgkeys ?? []).entries()) {
              const kf = ctx.store.tmpName(`gpgkey${i}`);
              writeFileSync(kf, key);
              try {
                await run(['ostree', `--repo=${repo}`, 'remote', 'gpg-import', `--keyring=${kf}`, name], { what, signal: ctx.signal });
              } finally {
                rmSync(kf, { force: true });
              }
            }
            await run(['ostree', `--repo=${repo}`, 'pull', '--mirror', name, commit], { what, signal: ctx.signal });
          } finally {
            await run(['ostree', `--repo=${repo}`, 'remote', 'delete', name]).catch(() => undefined);
          }
        }
        if (!(await hasCommit(repo, commit, ctx.signal))) throw new KilnError(`${what}: the commit is not in the repository after pulling`);
        downloaded++;
        ctx.onEvent({ type: 'download-finish', source: TYPE, item: commit, bytes: 0, cached: false, duration: Date.now() - started });
      }
    } finally {
      unlock();
    }
    return { downloaded, bytes: 0 };
  },
};
