// org.osbuild.xz: xz-compress the `file` input into `filename` in the tree (level 0, all cores,
// as osbuild does: fast, and the image is mostly empty space).
import { compressor } from './compress.js';

export const xzStage = compressor('org.osbuild.xz', (src) => ['xz', '--keep', '--stdout', '-0', '--threads=0', src]);
