// Public surface of the executor.
export { runManifest, type RunManifestOptions, type RunReport, type PipelineReport, type StageReport } from './run.js';
export type { ExecutorEvent, EventSink } from './events.js';
export { Store, type StoreOptions } from './store.js';
export { validateManifest } from './validate.js';
export { formatEvent, capabilities } from './log.js';
export { registerStage, getStage, stageTypes, type StageImpl, type StageContext } from './stages/index.js';
export { registerSource, getSource, sourceTypes } from './sources/index.js';
export { registerDevice } from './devices.js';
export { registerMount } from './mounts.js';
