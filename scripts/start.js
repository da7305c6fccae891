#!/usr/bin/env node
// `npm start`: the whole product on this machine. Builds the console when needed, runs hub,
// streaming endpoint and operator console on https://localhost:8443 with their data in ./data,
// registers a demo device, and runs its agent and shell server as real child processes over TLS.
// Ctrl-C stops everything; a second start reuses ./data.
import { register } from 'tsx/esm/api';

register();
const { runStack } = await import('./stack.ts');
await runStack(process.argv.slice(2));
