// org.osbuild.zstd: zstd-compress the `file` input into `filename` in the tree (level 1, all
// cores, as osbuild does).
import { compressor } from './compress.js';

export const zstdStage = compressor('org.osbuild.zstd', (src) => ['zstd', '--keep', '--stdout', '-T0', '-1', '-q', src]);
