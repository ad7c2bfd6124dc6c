// The OS-configuration, boot loader and container stages (one file each); the lead adds
// OS_STAGES to the registry in stages/index.ts.
import { bootupdGenMetadataStage } from './bootupd.gen-metadata.js';
import { chownStage } from './chown.js';
import { chronyStage } from './chrony.js';
import { dracutConfStage } from './dracut.conf.js';
import { firewallStage } from './firewall.js';
import { fixBlsStage } from './fix-bls.js';
import { groupsStage } from './groups.js';
import { grub2Stage } from './grub2.js';
import { grub2InstStage } from './grub2.inst.js';
import { ignitionStage } from './ignition.js';
import { keymapStage } from './keymap.js';
import { machineIdStage } from './machine-id.js';
import { nginxConfStage } from './nginx.conf.js';
import { ociArchiveStage } from './oci-archive.js';
import { sysconfigStage } from './sysconfig.js';
import { systemdJournaldStage } from './systemd-journald.js';
import { systemdPresetStage } from './systemd.preset.js';
import { systemdUnitCreateStage } from './systemd.unit.create.js';
import type { StageImpl } from './types.js';
import { usersStage } from './users.js';

export const OS_STAGES: StageImpl[] = [
  bootupdGenMetadataStage,
  chownStage,
  chronyStage,
  dracutConfStage,
  firewallStage,
  fixBlsStage,
  groupsStage,
  grub2Stage,
  grub2InstStage,
  ignitionStage,
  keymapStage,
  machineIdStage,
  nginxConfStage,
  ociArchiveStage,
  sysconfigStage,
  systemdJournaldStage,
  systemdPresetStage,
  systemdUnitCreateStage,
  usersStage,
];
