/**
 * A key given on the command line is not left readable in /proc/PID/cmdline (what `ps` shows every
 * user of the machine) while the command runs.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { buildAndUnpackKit } from './fixtures/device-kit.js';
import { freePort, spawnCli, spawnProc, stopAll } from './harness.js';

afterAll(stopAll);

const KEY = 'c2VjcmV0LWtleS1vZi10aGUtZGV2aWNlLWZvci1wcw==';

function cmdline(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+/g, ' ').trim();
}

describe('secrets on the command line', () => {
  it('a running agent shows its connection string in ps with the key masked and the device id kept', async () => {
    // Nothing listens on the port: the agent stays up, retrying, while ps is read.
    const port = await freePort();
    const agent = spawnCli(['agent', '--connection-string', `HostName=127.0.0.1:${port};DeviceId=ps-device;SharedAccessKey=${KEY}`, '--map', 'ssh=127.0.0.1:22']);
    await agent.waitFor(/cannot connect to the hub/);
    // The command line is rewritten before the command runs, so before anything it prints.
    const seen = cmdline(agent.pid);
    expect(seen).not.toContain(KEY);
    expect(seen).toMatch(/^devicestreams agent --connection-string HostName=127\.0\.0\.1:\d+;DeviceId=ps-device;SharedAccessKey=\*\*\* --map ssh=127\.0\.0\.1:22$/);
    expect(agent.child.exitCode).toBeNull();
  });

  it('the device kit\'s agent shows the same way, as devicestreams-device', async () => {
    const kit = buildAndUnpackKit();
    const port = await freePort();
    const agent = spawnProc(process.execPath, [kit.bin, 'agent', '--connection-string', `HostName=127.0.0.1:${port};DeviceId=kit-device;SharedAccessKey=${KEY}`, '--map', 'ssh=127.0.0.1:22'], {}, 'SIGTERM', kit.dir);
    await agent.waitFor(/cannot connect to the hub/);
    const seen = cmdline(agent.pid);
    expect(seen).not.toContain(KEY);
    expect(seen).toMatch(/^devicestreams-device agent --connection-string HostName=127\.0\.0\.1:\d+;DeviceId=kit-device;SharedAccessKey=\*\*\* --map ssh=127\.0\.0\.1:22$/);
  }, 180_000);
});
