/**
 * The command line's help and its checks of what it is given: what --help promises matches what
 * the commands do, and whatever can be checked locally is refused before anything starts, with
 * exit status 2.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, runCli as cli, spawnCli, stopAll } from './harness.js';

/** Service credentials for a hub that is not there: nothing in these tests may get as far as asking it. */
let env: Record<string, string>;
const DEVICE_CS = 'HostName=127.0.0.1:1;DeviceId=d;SharedAccessKey=a2V5a2V5a2V5a2V5a2V5a2V5';

beforeAll(async () => {
  env = { IOTHUB_CONNECTION_STRING: `HostName=127.0.0.1:${await freePort()};SharedAccessKeyName=iothubowner;SharedAccessKey=a2V5a2V5a2V5a2V5a2V5a2V5`, DEVICESTREAMS_CA: '' };
});

afterAll(stopAll);

describe('devicestreams help and usage errors', () => {
  it('device --help names enable and disable in its usage line', () => {
    const usage = cli(['device', '--help']).out.split('\n')[0] ?? '';
    expect(usage).toMatch(/^Usage: devicestreams device </);
    expect(usage).toContain('enable ID');
    expect(usage).toContain('disable ID');
  });

  it('cp --help does not offer --no-resume, which cp refuses with exit 2', () => {
    const help = cli(['cp', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).not.toContain('--no-resume');
    expect(help.out).toContain('--resume-window SECS');
    const refused = cli(['cp', '--no-resume', 'dev:a.txt', '/tmp/'], env);
    expect(refused.code).toBe(2);
    expect(refused.err).toBe('devicestreams cp: cp needs a resumable (v2) stream for end of input; leave out --no-resume\n');
  });

  it('stream --help says that with --no-resume the end of stdin does not end the stream, and to add --close-on-eof or leave --no-resume out', () => {
    const help = cli(['stream', '--help']).out.replace(/\s+/g, ' ');
    expect(help).toContain('--no-resume a plain (v1) stream: a lost connection ends it, and it has no half-close, so the end of stdin does not end the stream; add --close-on-eof to end it then, or leave --no-resume out');
    expect(help).toContain('--close-on-eof end the stream when stdin ends even though it cannot half-close (--no-resume, or a device whose agent is older)');
    // proxy has no stdin: its --no-resume line stays the plain one.
    expect(cli(['proxy', '--help']).out).toMatch(/--no-resume {17}a plain \(v1\) stream: no half-close, a lost connection ends it\n/);
  });

  it('proxy refuses a stream name the hub would refuse with exit 2 and never listens; stream and cp refuse it the same way', async () => {
    const proxy = spawnCli(['proxy', '--device', 'pump-17', '--stream', 'bad name', '--listen', '127.0.0.1:0'], env);
    const outcome = await Promise.race([proxy.exited.then((code) => ({ code })), proxy.waitFor(/LISTENING/).then(() => ({ code: 'listening' as const }))]);
    proxy.kill('SIGKILL');
    expect(outcome.code).toBe(2);
    expect(proxy.output()).toBe('devicestreams proxy: --stream "bad name" is not a stream name: 1-64 letters, digits, "-", "." and "_"\n');
    const stream = cli(['stream', 'pump-17', '--name', 'bad name!'], env);
    expect(stream).toMatchObject({ code: 2, err: 'devicestreams stream: --name "bad name!" is not a stream name: 1-64 letters, digits, "-", "." and "_"\n' });
    const cp = cli(['cp', '--stream', 'files/x', 'pump-17:a.txt', '/tmp/'], env);
    expect(cp).toMatchObject({ code: 2, err: 'devicestreams cp: --stream "files/x" is not a stream name: 1-64 letters, digits, "-", "." and "_"\n' });
  });

  it('other local mistakes exit 2 before the hub is asked: an invalid device id (stream, proxy, cp), a malformed hub connection string, an agent --map it refuses', () => {
    for (const args of [
      ['stream', 'pump 17', '--name', 'ssh'],
      ['proxy', '--device', 'pump 17', '--stream', 'ssh', '--listen', '127.0.0.1:0'],
      ['cp', 'pump 17:a.txt', '/tmp/'],
    ]) {
      const r = cli(args, env);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toMatch(/: "pump 17" is not a device id: 1-128 letters, digits and/);
    }
    const cs = cli(['streams', 'list'], { IOTHUB_CONNECTION_STRING: 'HostName=h;SharedAccessKey=x' });
    expect(cs.code).toBe(2);
    expect(cs.err).toMatch(/^devicestreams streams: invalid connection string: .* \(--hub-connection-string or IOTHUB_CONNECTION_STRING\)\n$/);
    const map = cli(['agent', '--connection-string', DEVICE_CS, '--map', 'bad name=127.0.0.1:22']);
    expect(map.code).toBe(2);
    expect(map.err).toBe('devicestreams agent: --map "bad name=127.0.0.1:22": stream name may use letters, digits, "-", "." and "_"\n');
  });
});
