export { loadBuilderConfig, parseBuilderConfig, type BuilderConfig } from './config.js';
export { KojiBuilder, defaultHandlers, type KojiBuilderOptions } from './daemon.js';
export { KilnImageBuildRunner, type ImageBuildRunner, type ImageBuildRequest, type ImageBuildOutput, type ImagePackage } from './runner.js';
export { matchArchiveType, parseArchiveTypes, type ArchiveType } from './archive-types.js';
export { TaskContext, type HandlerSpec, type TaskHandler, type BuilderEnv } from './task.js';
