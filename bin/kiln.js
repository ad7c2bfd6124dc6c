#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (run `npm run build` first).
import { main } from '../dist/src/cli/main.js';
main(process.argv.slice(2), 'kiln').then((code) => { process.exitCode = code; });
