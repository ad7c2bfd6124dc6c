// org.osbuild.firewall: configure firewalld offline with the tree's own firewall-offline-cmd,
// run chrooted into the tree with /dev, /proc, /sys bound (as osbuild does): default zone, ports and services of the default
// zone, zones with their sources. A tree without firewall-offline-cmd is an error (the stage
// cannot be done faithfully without it; firewalld's zone XML is the tool's business).
import { KilnError } from '../../util/errors.js';
import type { StageImpl } from './types.js';
import { allowKeys, bindApiFsInTree, checkString, checkStringArray, isObj, optionsOf, treeTool } from './os-util.js';

const TOOL_PATHS = ['/usr/bin/firewall-offline-cmd', '/usr/sbin/firewall-offline-cmd'];
// exit code of firewall-offline-cmd --info-zone for a zone that does not exist (INVALID_ZONE)
const INVALID_ZONE = 112;

export const firewallStage: StageImpl = {
  type: 'org.osbuild.firewall',
  validate(stage, what) {
    const o = optionsOf(stage);
    allowKeys(o, ['ports', 'enabled_services', 'disabled_services', 'default_zone', 'zones'], what);
    checkStringArray(o.ports, 'ports', what, { re: /^[0-9a-z-]+:(tcp|udp|sctp|dccp)$/ });
    checkStringArray(o.enabled_services, 'enabled_services', what, { re: /^[A-Za-z0-9_.+-]+$/ });
    checkStringArray(o.disabled_services, 'disabled_services', what, { re: /^[A-Za-z0-9_.+-]+$/ });
    checkString(o.default_zone, 'default_zone', what, { re: /^[A-Za-z0-9_-]*$/ });
    if (o.zones !== undefined) {
      if (!Array.isArray(o.zones) || o.zones.length === 0) throw new KilnError(`${what}: option "zones" must be a non-empty array of {name, sources}`);
      o.zones.forEach((z: unknown, i) => {
        if (!isObj(z)) throw new KilnError(`${what}: option "zones"[${i}] must be an object`);
        allowKeys(z, ['name', 'sources'], what, `key in zones[${i}]:`);
        checkString(z.name, `zones[${i}].name`, what, { required: true, re: /^[a-zA-Z0-9_-]*$/ });
        checkStringArray(z.sources, `zones[${i}].sources`, what, { required: true, re: /^\S+$/ });
      });
    }
  },
  async run(ctx) {
    const o = ctx.options as { ports?: string[]; enabled_services?: string[]; disabled_services?: string[]; default_zone?: string; zones?: { name: string; sources: string[] }[] };
    const tool = treeTool(ctx, TOOL_PATHS);
    if (!tool) throw new KilnError(`${ctx.what}: firewall-offline-cmd is not in the tree (looked for ${TOOL_PATHS.join(', ')}); install firewalld in the image to configure the firewall`);
    if (!ctx.buildroot.hasTool('chroot')) throw new KilnError(`${ctx.what}: chroot is not in the build root (needed to run the tree's firewall-offline-cmd)`);
    // osbuild's chroot has /dev, /proc and /sys; the tool (python) expects them
    await bindApiFsInTree(ctx, true);
    const fw = (args: string[], okCodes?: number[]) => ctx.run(['chroot', ctx.toSandbox(ctx.tree), tool, ...args], { what: `${ctx.what}: firewall-offline-cmd`, okCodes });
    if (o.default_zone) await fw([`--set-default-zone=${o.default_zone}`]);
    const args = [...(o.ports ?? []).map((p) => `--port=${p}`), ...(o.enabled_services ?? []).map((s) => `--service=${s}`), ...(o.disabled_services ?? []).map((s) => `--remove-service=${s}`)];
    if (args.length) await fw(args);
    for (const z of o.zones ?? []) await zone(fw, z);
  },
};

async function zone(fw: (a: string[], ok?: number[]) => Promise<{ code: number }>, z: { name: string; sources: string[] }): Promise<void> {
  if (z.name !== '') {
    const info = await fw([`--info-zone=${z.name}`], [0, INVALID_ZONE]);
    if (info.code === INVALID_ZONE) await fw([`--new-zone=${z.name}`]);
  }
  if (z.sources.length) await fw([`--zone=${z.name}`, ...z.sources.map((s) => `--add-source=${s}`)]);
}
