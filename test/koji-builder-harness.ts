// A Koji hub double with one target and a running Kiln build host, for builder tests that need
// the whole task path (hub -> daemon -> handler -> runner) but not koji-builder.test.ts's
// transcript checks. Same seed and host config as there.
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { parseBuilderConfig, type BuilderConfig } from '../src/koji/builder/config.js';
import { KojiBuilder } from '../src/koji/builder/daemon.js';
import type { ImageBuildOutput, ImageBuildRequest, ImageBuildRunner } from '../src/koji/builder/runner.js';
import { decodeResponse, type XmlRpcStruct, type XmlRpcValue } from '../src/koji/xmlrpc.js';
import { startKojiHubDouble, TASK_STATES, type KojiHubDouble, type KojiHubDoubleOptions } from './helpers/kojihub-double.js';

export function makeTmp(prefix: string): { tmp: () => string; cleanup: () => void } {
  const dirs: string[] = [];
  return {
    tmp: () => {
      const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
      dirs.push(d);
      return d;
    },
    cleanup: () => {
      for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    },
  };
}

export interface Harness {
  dbl: KojiHubDouble;
  dir: string;
  logs: string[];
  builder: KojiBuilder;
  /** the builder's run() loop (undefined while paused) */
  loop: Promise<void> | undefined;
  /** start the loop of a harness made with `paused` (logged in, not polling yet) */
  resume(): void;
  stop(): Promise<void>;
}

/** Hub double (target f42-image-builder: f42-build -> f42 with package Fedora-Minimal) and a host. */
export async function startHarness(
  dir: string,
  runner: ImageBuildRunner,
  packages = ['Fedora-Minimal'],
  extra: {
    host?: string;
    build?: string;
    paused?: boolean;
    /** options for the hub double (tags, repo manager, ...) over the defaults here */
    hub?: Partial<KojiHubDoubleOptions>;
    /** adjust the parsed builder config (settings the TOML text above does not set) */
    configure?: (cfg: BuilderConfig) => void;
  } = {},
): Promise<Harness> {
  const dbl = await startKojiHubDouble({
    topdir: path.join(dir, 'koji'),
    users: [
      { name: 'kojiadmin', password: 'adminpass', perms: ['admin'] },
      { name: 'imguser', password: 'imgpass', perms: ['image'] },
    ],
    hosts: [{ name: 'kiln1', password: 'hostpass', arches: 'x86_64 aarch64', capacity: 10, channels: ['default', 'image'] }],
    tags: [{ name: 'f42-build', arches: 'x86_64 aarch64' }, { name: 'f42', packages }],
    targets: [{ name: 'f42-image-builder', buildTag: 'f42-build', destTag: 'f42' }],
    schedulerIntervalMs: 0,
    ...extra.hub,
  });
  const file = path.join(dir, 'builder.toml');
  fs.writeFileSync(
    file,
    `[hub]\nurl = "${dbl.url}"\ntopurl = "${dbl.topurl}"\n\n[auth]\ntype = "password"\nuser = "kiln1"\npassword = "hostpass"\n\n` +
      `[host]\nname = "kiln1"\narches = ["x86_64", "aarch64"]\n${extra.host ?? 'max_jobs = 4'}\ncapacity = 4.0\npoll_interval = 0.05\nlog_interval = 0.05\n\n` +
      // tasks without opts.distro build fedora-42 (the test host's own distro need not be one Kiln has)
      `[build]\nwork_dir = "${dir}/work"\ncache_dir = "${dir}/cache"\nbuildroot = "host"\n${extra.build ?? 'default_distro = "fedora-42"'}\n`,
  );
  const cfg: BuilderConfig = parseBuilderConfig(fs.readFileSync(file, 'utf8'), file);
  extra.configure?.(cfg);
  const logs: string[] = [];
  const builder = new KojiBuilder(cfg, { runner, log: (m) => logs.push(m) });
  await builder.start();
  const h: Harness = {
    dbl,
    dir,
    logs,
    builder,
    loop: extra.paused ? undefined : builder.run(),
    resume: () => {
      h.loop ??= builder.run();
    },
    stop: async () => {
      await builder.stop();
      await h.loop;
      await dbl.stop();
    },
  };
  return h;
}

export function submit(dbl: KojiHubDouble, arches: string[], opts: XmlRpcStruct, types = ['minimal-raw-xz'], name = 'Fedora-Minimal', version = '42'): number {
  return Number(dbl.callAs('imguser', 'imageBuilderBuild', ['f42-image-builder', arches, types, name, version, opts]));
}

const FINISHED: number[] = [TASK_STATES.CLOSED, TASK_STATES.FAILED, TASK_STATES.CANCELED];

export async function waitTask(dbl: KojiHubDouble, id: number, timeoutMs = 60_000): Promise<number> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const t = dbl.state.tasks.get(id);
    if (t && FINISHED.includes(t.state)) return t.state;
    if (Date.now() > end) throw new Error(`timed out waiting for task ${id}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A finished task's result: the value, or the fault. */
export function result(dbl: KojiHubDouble, id: number): { value?: XmlRpcValue; fault?: { faultCode: number; faultString: string } } {
  const r = decodeResponse(dbl.state.tasks.get(id)!.result!);
  return r.kind === 'value' ? { value: r.value } : { fault: r.fault };
}

export function children(dbl: KojiHubDouble, parent: number) {
  return [...dbl.state.tasks.values()].filter((t) => t.parent === parent);
}

export interface SmallRunnerOptions {
  /** image extension (default raw.xz) */
  ext?: string;
  /** image size in bytes (default 2048) */
  size?: number;
  /** arches whose builds fail (as a failed stage) */
  failArches?: string[];
  /** awaited before writing anything: hold a build open, or reject on abort */
  gate?: (req: ImageBuildRequest) => Promise<void>;
  /** file that gets this process's pid when a build starts */
  marker?: string;
}

/**
 * Writes `<outputName>.<ext>` (random bytes), a manifest and an SBOM; a build fails while
 * `fail` is set or for the `failArches`.
 */
export class SmallRunner implements ImageBuildRunner {
  builds: ImageBuildRequest[] = [];
  fail = false;
  written = new Map<string, string>(); // basename -> sha256
  constructor(private readonly o: SmallRunnerOptions = {}) {}
  async imageExtension(): Promise<string> {
    return this.o.ext ?? 'raw.xz';
  }
  async sideFileSuffixes(): Promise<string[]> {
    return ['osbuild-manifest.json', 'image-os.spdx.json'];
  }
  async build(req: ImageBuildRequest): Promise<ImageBuildOutput> {
    this.builds.push(req);
    req.log(`stub build of ${req.imageType} for ${req.arch}`);
    if (this.o.marker) fs.writeFileSync(this.o.marker, String(process.pid));
    if (this.o.gate) await this.o.gate(req);
    if (this.fail || this.o.failArches?.includes(req.arch)) throw new Error(`stage org.osbuild.rpm failed for ${req.arch}`);
    const image = path.join(req.outputDir, `${req.outputName}.${this.o.ext ?? 'raw.xz'}`);
    const data = randomBytes(this.o.size ?? 2048);
    fs.writeFileSync(image, data);
    this.written.set(path.basename(image), createHash('sha256').update(data).digest('hex'));
    const manifest = path.join(req.outputDir, `${req.outputName}.osbuild-manifest.json`);
    fs.writeFileSync(manifest, JSON.stringify({ version: '2', pipelines: [] }));
    const sbom = path.join(req.outputDir, `${req.outputName}.image-os.spdx.json`);
    fs.writeFileSync(sbom, JSON.stringify({ spdxVersion: 'SPDX-2.3' }));
    return { image, sideFiles: [manifest, sbom], packages: [] };
  }
}
