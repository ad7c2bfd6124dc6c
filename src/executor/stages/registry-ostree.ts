// The ostree commit/deployment stages and the installer ISO stages, for stages/index.ts to add
// to its registry (`for (const s of OSTREE_STAGES) registerStage(s)` or spread into BUILTIN).
import { anacondaStage } from './anaconda.js';
import { buildstampStage } from './buildstamp.js';
import { discinfoStage } from './discinfo.js';
import { dracutStage } from './dracut.js';
import { erofsStage } from './erofs.js';
import { grub2IsoLegacyStage } from './grub2.iso.legacy.js';
import { grub2IsoStage } from './grub2.iso.js';
import { implantisomd5Stage } from './implantisomd5.js';
import { kickstartStage } from './kickstart.js';
import { loraxScriptStage } from './lorax-script.js';
import { ostreeCommitStage } from './ostree.commit.js';
import { ostreeConfigStage } from './ostree.config.js';
import { ostreeDeployStage } from './ostree.deploy.js';
import { ostreeEncapsulateStage } from './ostree.encapsulate.js';
import { ostreeFillvarStage } from './ostree.fillvar.js';
import { ostreeInitFsStage } from './ostree.init-fs.js';
import { ostreeInitStage } from './ostree.init.js';
import { ostreeOsInitStage } from './ostree.os-init.js';
import { ostreePasswdStage } from './ostree.passwd.js';
import { ostreePreptreeStage } from './ostree.preptree.js';
import { ostreePullStage } from './ostree.pull.js';
import { ostreeRemotesStage } from './ostree.remotes.js';
import { ostreeSelinuxStage } from './ostree.selinux.js';
import { selinuxConfigStage } from './selinux.config.js';
import { squashfsStage } from './squashfs.js';
import type { StageImpl } from './types.js';
import { xorrisofsStage } from './xorrisofs.js';

export const OSTREE_STAGES: StageImpl[] = [
  // commit side
  ostreePreptreeStage,
  ostreeInitStage,
  ostreeCommitStage,
  ostreePasswdStage,
  ostreeEncapsulateStage,
  // deployment side
  ostreeInitFsStage,
  ostreeOsInitStage,
  ostreePullStage,
  ostreeDeployStage,
  ostreeFillvarStage,
  ostreeConfigStage,
  ostreeSelinuxStage,
  ostreeRemotesStage,
  // installer ISO
  buildstampStage,
  discinfoStage,
  kickstartStage,
  selinuxConfigStage,
  anacondaStage,
  loraxScriptStage,
  dracutStage,
  squashfsStage,
  erofsStage,
  grub2IsoStage,
  grub2IsoLegacyStage,
  xorrisofsStage,
  implantisomd5Stage,
];
