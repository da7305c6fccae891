#!/usr/bin/env node
// Entry point of the `devicestreams` command. The sources are TypeScript, loaded through tsx.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
await main(process.argv.slice(2));
