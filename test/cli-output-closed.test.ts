/**
 * The command line when the reader of its output goes away (`| head`, `| true`): it stops as Unix
 * tools do on SIGPIPE (status 141, nothing on stderr) instead of crashing with a stack trace, and
 * `stream` gives its stream up cleanly first, so the device side sees it aborted at once rather
 * than waiting for a resume.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, startAgent, startHub, stopAll, type HubHandle } from './harness.js';

let hub: HubHandle;
let env: Record<string, string>;
let chatty: Server;

/** Runs `shell` under bash with pipefail; resolves with what it printed (stdout, stderr). */
function sh(shell: string): Promise<{ out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-o', 'pipefail', '-c', shell], { env: { ...process.env, ...env, DS: `${process.execPath} ${CLI}` } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('close', () => resolve({ out, err }));
  });
}

beforeAll(async () => {
  hub = await startHub();
  env = { IOTHUB_CONNECTION_STRING: hub.ownerCs, DEVICESTREAMS_CA: hub.caFile };
  // A device service that answers every connection with 16 MiB, far more than a pipe holds.
  const block = Buffer.alloc(1 << 20, 'x');
  chatty = createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => undefined);
    let left = 16;
    const more = (): void => {
      while (left > 0) {
        left--;
        if (!s.write(block)) return void s.once('drain', more);
      }
      s.end();
    };
    more();
  });
  await new Promise<void>((resolve) => chatty.listen(0, '127.0.0.1', resolve));
  await startAgent(hub, 'cli-pipe-dev', [`chatty=127.0.0.1:${(chatty.address() as AddressInfo).port}`]);
});

afterAll(async () => {
  await stopAll();
  await new Promise((resolve) => chatty.close(resolve));
});

describe('devicestreams output whose reader goes away', () => {
  it('stream | head: exits 141 with nothing on stderr, and the stream is logged as given up by the service side, not left live', async () => {
    const r = await sh('$DS stream cli-pipe-dev --name chatty </dev/null | head -c 100 >/dev/null; echo "status=${PIPESTATUS[0]}"');
    expect(r.out.trim()).toBe('status=141');
    expect(r.err).toBe('');
    // The hub writes the record from its own close handler: looked at until it has (10 s at most).
    let s: Awaited<ReturnType<typeof hub.service.listStreams>>['streams'][number] | undefined;
    for (let waited = 0; waited < 10_000; waited += 100) {
      [s] = (await hub.service.listStreams({ deviceId: 'cli-pipe-dev', limit: 1 })).streams;
      if (s?.state === 'ended') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(s).toMatchObject({ state: 'ended', closedBy: 'service', closeCode: 4011, interruptions: 0 });
    expect(s?.reason ?? '').toMatch(/its reader closed the output/);
  });

  it('device list | true: exits 141 with nothing on stderr', async () => {
    const r = await sh('$DS device list | true; echo "status=${PIPESTATUS[0]}"');
    expect(r.out.trim()).toBe('status=141');
    expect(r.err).toBe('');
  });

  it('a whole answer read to its end still exits 0', async () => {
    const r = await sh('$DS stream cli-pipe-dev --name chatty </dev/null | wc -c; echo "status=${PIPESTATUS[0]}"');
    expect(r.out.trim().split('\n')).toEqual([String(16 << 20), 'status=0']);
  });
});
