// Comps (groups) file for the demo repository: the `core` group the minimal image asks for as
// @core, with Fedora-like mandatory and default members.

import type { CompsGroup } from '../rpm/types.js';

/** Fedora's core group, close to comps-f42 (mandatory + default members). */
export function defaultCoreGroup(): CompsGroup {
  const mandatory = ['audit', 'basesystem', 'bash', 'coreutils', 'curl', 'dnf5', 'e2fsprogs', 'fedora-release', 'filesystem',
    'glibc', 'hostname', 'iproute', 'iputils', 'kbd', 'less', 'man-db', 'ncurses', 'openssh-clients', 'openssh-server',
    'parted', 'policycoreutils', 'procps-ng', 'rootfiles', 'rpm', 'selinux-policy-targeted', 'setup', 'shadow-utils',
    'sssd-common', 'sssd-kcm', 'sudo', 'systemd', 'util-linux', 'vim-minimal'];
  const defaults = ['NetworkManager', 'chrony', 'dracut-config-rescue', 'firewalld', 'fwupd', 'plymouth',
    'systemd-resolved', 'zram-generator-defaults'];
  return {
    id: 'core',
    name: 'Core',
    description: 'Smallest possible installation',
    default: false,
    uservisible: false,
    packages: [
      ...mandatory.map((name) => ({ name, type: 'mandatory' as const })),
      ...defaults.map((name) => ({ name, type: 'default' as const })),
    ],
  };
}

/**
 * The generic cloud/server image types ask for '@Fedora Cloud Server'. In Fedora that name
 * belongs to a comps environment; here it is a plain group with the packages such images expect.
 */
export function cloudServerGroup(): CompsGroup {
  const mandatory = ['cloud-init', 'cloud-utils-growpart', 'chrony', 'dracut-config-generic', 'qemu-guest-agent',
    'rsync', 'sudo', 'tar', 'NetworkManager', 'openssh-server'];
  return {
    id: 'cloud-server',
    name: 'Fedora Cloud Server',
    description: 'Packages for Fedora cloud server images',
    default: false,
    uservisible: true,
    packages: mandatory.map((name) => ({ name, type: 'mandatory' as const })),
  };
}

/** Groups the generator knows; core is always written, the others only when asked for. */
export function builtinGroups(): CompsGroup[] {
  return [defaultCoreGroup(), cloudServerGroup()];
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function compsXml(groups: readonly CompsGroup[]): string {
  const out = ['<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE comps PUBLIC "-//Red Hat, Inc.//DTD Comps info//EN" "comps.dtd">', '<comps>'];
  for (const g of groups) {
    out.push('  <group>', `    <id>${esc(g.id)}</id>`, `    <name>${esc(g.name)}</name>`);
    if (g.description !== undefined) out.push(`    <description>${esc(g.description)}</description>`);
    out.push(`    <default>${g.default}</default>`, `    <uservisible>${g.uservisible}</uservisible>`, '    <packagelist>');
    for (const p of g.packages) {
      const req = p.type === 'conditional' && p.requires ? ` requires="${esc(p.requires)}"` : '';
      out.push(`      <packagereq type="${p.type}"${req}>${esc(p.name)}</packagereq>`);
    }
    out.push('    </packagelist>', '  </group>');
  }
  out.push('</comps>', '');
  return out.join('\n');
}
