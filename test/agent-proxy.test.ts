/**
 * Devices that can leave their network only through an HTTP proxy: the agent behind Debian's
 * tinyproxy with basic auth, given by --proxy or by HTTPS_PROXY (and NO_PROXY), for its control
 * channel, each stream's leg and the calls that resume a stream; and the errors a user meets when
 * the proxy says no or is not there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResumableStream } from '../shared/resumable-stream.js';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { loadTlsFiles } from '../server/tls.js';
import { ROOT, freePort, spawnCli, startEchoServer, startHub, stopAll, type HubHandle } from './harness.js';
import { restartHub, until } from './fixtures/fault-helpers.js';
import { startTinyproxy, type TinyProxy } from './fixtures/tinyproxy.js';

const ONLY_VIA_PROXY = join(ROOT, 'test', 'fixtures', 'only-via-proxy.mjs');

let hub: HubHandle;
let proxy: TinyProxy;
let echoPort: number;

beforeAll(async () => {
  hub = await startHub();
  proxy = await startTinyproxy({ user: 'field', password: 'pr0xy-secret' });
  echoPort = (await startEchoServer()).port;
});

afterAll(stopAll);

/** Tunnels the proxy opened to the hub's port so far. */
function tunnelsToHub(): number {
  return proxy.log().split('\n').filter((l) => /CONNECT/.test(l) && l.includes(`:${hub.port}`)).length;
}

async function echo(deviceId: string, text: string): Promise<string> {
  const s = await hub.service.initiateStream(deviceId, 'echo', { connectTimeoutSeconds: 10 });
  const back = await new Promise<string>((resolve, reject) => {
    let got = '';
    s.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.length >= text.length) resolve(got);
    });
    s.once('error', reject);
    s.write(text);
  });
  s.end();
  return back;
}

describe('an agent behind an HTTP proxy', () => {
  it('with --proxy and basic auth, on a network where only the proxy is reachable: connects, carries a stream, and resumes it across a hub restart', async () => {
    const before = tunnelsToHub();
    // The agent can reach only the proxy and its echo service: a connection that bypassed the proxy would fail.
    await hub.service.createDevice('proxied-dev');
    const agent = spawnCli(['agent', '--ca', hub.caFile, '--map', `echo=127.0.0.1:${echoPort}`, '--proxy', proxy.url(), '--max-backoff', '2'], {
      DEVICE_CONNECTION_STRING: await hub.service.deviceConnectionString('proxied-dev'),
      NODE_OPTIONS: `--import ${ONLY_VIA_PROXY}`,
      DS_TEST_ALLOWED_PORTS: `${proxy.port},${echoPort}`,
    });
    await agent.waitFor(/connected to the hub/);
    expect(agent.output()).toContain(`reaching the hub through the proxy http://field:***@127.0.0.1:${proxy.port}`);
    expect(agent.output()).not.toContain('pr0xy-secret');
    expect(await echo('proxied-dev', 'through the proxy')).toBe('through the proxy');
    // The control channel and the stream's leg.
    expect(tunnelsToHub() - before).toBeGreaterThanOrEqual(2);

    const events: string[] = [];
    const s = (await hub.service.initiateStream('proxied-dev', 'echo', { resumable: { windowSeconds: 60, onEvent: (e) => events.push(e) } })) as ResumableStream;
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.write('one ');
    await until('the first echo', () => (got === 'one ' ? true : undefined));
    const beforeRestart = tunnelsToHub();
    hub.proc.kill('SIGKILL');
    await hub.proc.exited;
    s.write('two');
    hub = await restartHub(hub);
    await until('the resumed echo', () => (got === 'one two' ? true : undefined), 30_000);
    expect(events).toEqual(['interrupted', 'resumed']);
    // The device side came back through the proxy too: its new control channel and its resumed leg
    // (the resume call itself is one more).
    expect(tunnelsToHub() - beforeRestart).toBeGreaterThanOrEqual(2);
    s.end();
    agent.kill('SIGTERM');
    await agent.exited;
  });

  it('takes the proxy from HTTPS_PROXY, and goes direct when NO_PROXY names the hub', async () => {
    const before = tunnelsToHub();
    await hub.service.createDevice('env-dev');
    const cs = await hub.service.deviceConnectionString('env-dev');
    const caArgs = ['--ca', hub.caFile, '--map', `echo=127.0.0.1:${echoPort}`];
    const proxied = spawnCli(['agent', ...caArgs], { DEVICE_CONNECTION_STRING: cs, HTTPS_PROXY: proxy.url() });
    await proxied.waitFor(/connected to the hub/);
    expect(proxied.output()).toContain(`through the proxy http://field:***@127.0.0.1:${proxy.port}`);
    expect(tunnelsToHub()).toBeGreaterThan(before);
    proxied.kill('SIGTERM');
    await proxied.exited;

    const afterProxied = tunnelsToHub();
    const direct = spawnCli(['agent', ...caArgs], { DEVICE_CONNECTION_STRING: cs, HTTPS_PROXY: proxy.url(), NO_PROXY: 'localhost,127.0.0.1' });
    await direct.waitFor(/connected to the hub/);
    expect(direct.output()).not.toContain('through the proxy');
    expect(await echo('env-dev', 'direct')).toBe('direct');
    expect(tunnelsToHub()).toBe(afterProxied);
    direct.kill('SIGTERM');
    await direct.exited;
  });

  it('a wrong proxy password is a clear error that hides the password, and the agent keeps retrying', async () => {
    const cs = (await hub.service.createDevice('denied-dev'), await hub.service.deviceConnectionString('denied-dev'));
    const agent = spawnCli(['agent', '--ca', hub.caFile, '--map', `echo=127.0.0.1:${echoPort}`, '--proxy', proxy.url('field', 'wrong-password'), '--max-backoff', '1'], { DEVICE_CONNECTION_STRING: cs });
    const line = new RegExp(`cannot connect to the hub: the proxy http://field:\\*\\*\\*@127\\.0\\.0\\.1:${proxy.port} wants authentication \\(HTTP 40[17]\\): check the user and password in the proxy URL`, 'g');
    await until('two refused attempts', () => ((agent.output().match(line) ?? []).length >= 2 ? true : undefined), 15_000);
    expect(agent.output()).not.toContain('wrong-password');
    expect(agent.child.exitCode).toBeNull();
    agent.kill('SIGTERM');
    await agent.exited;
  });

  it('a proxy that forbids tunnels to the hub\'s port is a clear 403 naming what to allow, and the agent keeps retrying', async () => {
    const strict = await startTinyproxy({ user: 'field', password: 'secret', connectPorts: [await freePort()] });
    const cs = (await hub.service.createDevice('forbidden-dev'), await hub.service.deviceConnectionString('forbidden-dev'));
    const agent = spawnCli(['agent', '--ca', hub.caFile, '--map', `echo=127.0.0.1:${echoPort}`, '--proxy', strict.url('field', 'secret'), '--max-backoff', '1'], { DEVICE_CONNECTION_STRING: cs });
    const line = new RegExp(`cannot connect to the hub: the proxy http://field:\\*\\*\\*@127\\.0\\.0\\.1:${strict.port} does not allow a tunnel to the hub \\(HTTP 403\\): allow CONNECT to the hub's host and port`, 'g');
    await until('two refused attempts', () => ((agent.output().match(line) ?? []).length >= 2 ? true : undefined), 15_000);
    expect(agent.child.exitCode).toBeNull();
    expect((await hub.service.getDevice('forbidden-dev')).connectionState).toBe('Disconnected');
    agent.kill('SIGTERM');
    await agent.exited;
  });

  it('an error page from a server behind the tunnel (a balancer\'s 502 over TLS) is not blamed on the proxy: the message names the hub URL to check', async () => {
    // A TLS server with the hub's own certificate that answers everything with an HTML 502, as a
    // balancer with no node behind it does; the agent reaches it through the proxy.
    const tls = loadTlsFiles(join(hub.dataDir, 'tls', 'server.pem'), join(hub.dataDir, 'tls', 'server-key.pem'));
    const badGateway = createHttpsServer({ cert: tls.cert, key: tls.key }, (_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' }).end('<html><body>502 Bad Gateway</body></html>');
    });
    await new Promise<void>((resolve) => badGateway.listen(0, '127.0.0.1', resolve));
    try {
      const port = (badGateway.address() as AddressInfo).port;
      const cs = (await hub.service.createDevice('behind-lb-dev'), await hub.service.deviceConnectionString('behind-lb-dev'));
      const agent = spawnCli(['agent', '--ca', hub.caFile, '--hub-url', `https://localhost:${port}`, '--proxy', proxy.url(), '--max-backoff', '1'], { DEVICE_CONNECTION_STRING: cs });
      await agent.waitFor(/cannot connect to the hub: the hub refused the connection with HTTP 502 \(no DeviceStreams error in the answer: check the hub URL/, 15_000);
      expect(agent.output()).not.toMatch(/the proxy [^ ]+ refused the tunnel/);
      agent.kill('SIGTERM');
      await agent.exited;
    } finally {
      await new Promise((resolve) => badGateway.close(resolve));
    }
  });

  it('a proxy that is not there is named as such (and retried), and a proxy setting that is not an http(s) URL stops the agent at start with exit 2 without showing its credentials', async () => {
    await hub.service.createDevice('absent-proxy-dev');
    const cs = await hub.service.deviceConnectionString('absent-proxy-dev');
    const nowhere = await freePort();
    const agent = spawnCli(['agent', '--ca', hub.caFile, '--proxy', `http://127.0.0.1:${nowhere}`, '--max-backoff', '1'], { DEVICE_CONNECTION_STRING: cs });
    const unreachable = new RegExp(`cannot connect to the hub: cannot reach the proxy http://127\\.0\\.0\\.1:${nowhere}`, 'g');
    await until('two attempts at the absent proxy', () => ((agent.output().match(unreachable) ?? []).length >= 2 ? true : undefined), 15_000);
    expect(agent.child.exitCode).toBeNull();
    agent.kill('SIGTERM');
    await agent.exited;

    const bad = spawnCli(['agent', '--ca', hub.caFile, '--proxy', 'socks5://127.0.0.1:1080'], { DEVICE_CONNECTION_STRING: cs });
    expect(await bad.exited).toBe(2);
    expect(bad.output()).toMatch(/the proxy "socks5:\/\/127\.0\.0\.1:1080" must be an http:\/\/ or https:\/\/ URL/);
    // A setting that is not a URL is shown without whatever came before its '@'.
    const garbled = spawnCli(['agent', '--ca', hub.caFile, '--proxy', 'http://field:pass/word@127.0.0.1:99999'], { DEVICE_CONNECTION_STRING: cs });
    expect(await garbled.exited).toBe(2);
    expect(garbled.output()).toMatch(/the proxy "http:\/\/\*\*\*@127\.0\.0\.1:99999" is not a URL/);
    expect(garbled.output()).not.toContain('pass/word');
  });
});
