// Public entry point of the compose module (`kiln compose`): config -> plan -> tree -> run.
export { loadComposeConfig, parseComposeConfig, BACKENDS, FALLBACK_KEYS } from './config.js';
export type { ComposeConfig, VariantConfig, ImageEntry, BackendKind, OstreeConfig, LinkType, ChecksumType } from './config.js';
export {
  buildComposeId, parseComposeId, composeIdentity, composeDate, composeTypeSuffix, imageRelease, imageVersion, expandMagic,
  isValidLabel, MAGIC_VALUES, COMPOSE_TYPES,
} from './compose-id.js';
export type { ComposeIdentity, ComposeType, ReleaseInfo } from './compose-id.js';
export { planCompose, orderGroups, translatePath, OSTREE_COMMIT_TYPES, OSTREE_DEPLOY_TYPES } from './planner.js';
export type { ComposePlan, JobGroup, ImageJob } from './planner.js';
export { createComposeTree, ComposeTree, linkFile, COMPOSE_STATUSES } from './tree.js';
export type { ComposeStatus } from './tree.js';
export { ImageManifest, imagesDocument, composeInfoDocument, composeHeader, serializeMetadata, writeMetadata, writeFileAtomic } from './productmd.js';
export type { ProductmdImage } from './productmd.js';
export { fileDigests, checksumFileText, checksumBaseName, writeDirChecksums } from './checksums.js';
export { findTypeAndFormat, SUPPORTED_IMAGE_TYPES, SUPPORTED_IMAGE_FORMATS, IMAGE_TYPE_FORMAT_MAPPING } from './image-types.js';
export { CommandBackend, jobEnvironment } from './backend.js';
export type { ComposeBackend, JobContext, JobResult, JobOutcome, OstreeCommitRef } from './backend.js';
export { openCompose, prepareCompose, readJobState, jobStateFile, runCompose, writeChecksumFiles } from './orchestrate.js';
export type { JobState, PrepareOptions, RunComposeOptions, ComposeReport, JobReport } from './orchestrate.js';
