#!/usr/bin/env node
// Entry point of `npm run bench`: the benchmarks are TypeScript, loaded through tsx (as
// bin/devicestreams.js loads the CLI). Options: see `npm run bench -- --help` and bench/README.md.
import { register } from 'tsx/esm/api';

register();
await import('./run.ts');
