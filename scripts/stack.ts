/**
 * The one-command stack behind `npm start`: hub + streaming endpoint in this process, and the demo
 * device's agent and services as child processes, all on loopback over TLS.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startServer } from '../server/server.js';
import { createServiceClient } from '../server/sdk/service-client.js';

const ROOT = resolve(import.meta.dirname, '..');
const CLI = join(ROOT, 'bin', 'devicestreams.js');
const DEMO_DEVICE = 'demo-device';

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString()} ${line}\n`);
}

/** A loopback echo service for the demo device's "echo" mapping. */
function startEcho(): Promise<number> {
  const server = createServer((s) => {
    s.on('error', () => s.destroy());
    s.pipe(s);
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)));
}

export async function runStack(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { port: { type: 'string' }, 'data-dir': { type: 'string' } } });
  const dataDir = resolve(values['data-dir'] ?? join(ROOT, 'data'));
  const server = await startServer({
    roles: new Set(['hub', 'gateway']),
    dataDir,
    host: '127.0.0.1',
    port: Number(values.port ?? process.env.PORT ?? 8443),
    tls: { kind: 'local' },
    heartbeatIntervalMs: 15_000,
    throttle: { maxStreamsPerDevice: 20, maxStreamsPerHub: 2000, initiationsPerSecond: 500 },
    log,
  });
  const ownerCs = server.ownerConnectionString() as string;
  const store = server.store;
  if (store === undefined) throw new Error('hub role missing');
  if (store.devices.get(DEMO_DEVICE) === undefined) await createDemoDevice(server.url, ownerCs, server.caFile);
  const device = store.devices.get(DEMO_DEVICE);
  if (device === undefined) throw new Error('demo device missing');
  const deviceCs = `HostName=${server.hostName};DeviceId=${DEMO_DEVICE};SharedAccessKey=${device.primaryKey}`;
  const echoPort = await startEcho();

  const children: ChildProcess[] = [];
  const agent = spawn(process.execPath, [CLI, 'agent', '--ca', server.caFile as string, '--map', `echo=127.0.0.1:${echoPort}`], {
    env: { ...process.env, DEVICE_CONNECTION_STRING: deviceCs },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.push(agent);

  process.stdout.write(
    `\nDeviceStreams is running.\n` +
      `  hub and streaming endpoint: ${server.url}   (data in ${dataDir})\n` +
      `  demo device "${DEMO_DEVICE}" with an "echo" service, agent pid ${agent.pid}\n\n` +
      `Try it from another terminal in this folder:\n` +
      `  export IOTHUB_CONNECTION_STRING="$(npx devicestreams policy connection-string iothubowner --host-name ${server.hostName})"\n` +
      `  export DEVICESTREAMS_CA=${server.caFile ?? ''}\n` +
      `  npx devicestreams device list\n` +
      `  echo hello | npx devicestreams stream ${DEMO_DEVICE} --name echo\n\n` +
      `Press Ctrl-C to stop.\n`,
  );

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    log('stopping');
    for (const c of children) if (c.pid !== undefined && c.exitCode === null) c.kill('SIGTERM');
    void server.close().then(() => process.exit(0));
    setTimeout(() => process.exit(1), 5000).unref();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

async function createDemoDevice(url: string, ownerCs: string, caFile: string | undefined): Promise<void> {
  const { readFileSync } = await import('node:fs');
  const client = createServiceClient(ownerCs, { ca: caFile === undefined ? undefined : readFileSync(caFile, 'utf8'), hubUrl: url });
  await client.createDevice(DEMO_DEVICE);
  log(`registered the demo device "${DEMO_DEVICE}"`);
}
