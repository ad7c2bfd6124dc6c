#!/usr/bin/env node
// Alias binary: anything that calls upstream `image-builder` can call Kiln instead.
import { main } from '../dist/src/cli/main.js';
main(process.argv.slice(2), 'image-builder').then((code) => { process.exitCode = code; });
