/**
 * How the command line reaches the hub: URL flags and CA files are checked before anything is
 * sent (exit 2, saying the form expected), and a TLS failure to trust the hub says what to do.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLocalTls } from '../server/tls.js';
import { runCli as cli, spawnCli, startHub, stopAll, tempDir, type HubHandle } from './harness.js';

let hub: HubHandle;
/** The owner's connection string and no CA at all (whatever the environment running the tests says). */
let noCa: Record<string, string>;
let withCa: Record<string, string>;

beforeAll(async () => {
  hub = await startHub();
  noCa = { IOTHUB_CONNECTION_STRING: hub.ownerCs, DEVICESTREAMS_CA: '' };
  withCa = { ...noCa, DEVICESTREAMS_CA: hub.caFile };
});

afterAll(stopAll);

describe('devicestreams reaching the hub', () => {
  it('a --hub-url without a scheme, or with one the command cannot use, exits 2 before connecting and shows the form expected', () => {
    const bare = cli(['device', 'list', '--hub-url', `localhost:${hub.port}`], withCa);
    expect(bare.code).toBe(2);
    expect(bare.err.trim()).toBe(`devicestreams device: --hub-url "localhost:${hub.port}" is not a URL this command can use: give it as https://HOST[:PORT], e.g. https://localhost:8443 (http:// for a hub run with --insecure); did you mean https://localhost:${hub.port}?`);
    // The service commands speak HTTPS: a ws:// URL is refused as well.
    const ws = cli(['streams', 'list', '--hub-url', `wss://localhost:${hub.port}`], withCa);
    expect(ws.code).toBe(2);
    expect(ws.err).toMatch(/^devicestreams streams: --hub-url "wss:\/\/localhost:\d+" is not a URL this command can use: give it as https:\/\/HOST\[:PORT\]/);
    const stream = cli(['stream', 'some-device', '--name', 'ssh', '--hub-url', 'localhost'], withCa);
    expect(stream.code).toBe(2);
    expect(stream.err).toMatch(/--hub-url "localhost" is not a URL/);
    // The agent takes wss:// (or https://, the same hub).
    const agent = cli(['agent', '--connection-string', `HostName=localhost:${hub.port};DeviceId=d;SharedAccessKey=a2V5a2V5a2V5a2V5a2V5a2V5`, '--map', 'ssh=127.0.0.1:22', '--hub-url', `localhost:${hub.port}`], noCa);
    expect(agent.code).toBe(2);
    expect(agent.err).toMatch(new RegExp(`^devicestreams agent: --hub-url "localhost:${hub.port}" is not a URL this command can use: give it as wss://HOST\\[:PORT\\] or https://HOST\\[:PORT\\].*did you mean wss://localhost:${hub.port}\\?\\n$`));
    const ftp = cli(['agent', '--connection-string', `HostName=localhost:${hub.port};DeviceId=d;SharedAccessKey=a2V5a2V5a2V5a2V5a2V5a2V5`, '--map', 'ssh=127.0.0.1:22', '--hub-url', 'ftp://localhost'], noCa);
    expect(ftp.code).toBe(2);
    expect(ftp.err).toMatch(/--hub-url "ftp:\/\/localhost" is not a URL this command can use/);
    const gateway = cli(['hub', '--roles', 'gateway', '--hub-url', 'localhost:8443', '--data-dir', tempDir()]);
    expect(gateway.code).toBe(2);
    expect(gateway.err).toMatch(/^devicestreams hub: --hub-url "localhost:8443" is not a URL this command can use: give it as https:\/\/HOST\[:PORT\]/);
    // The hub's own URL is taken.
    expect(cli(['device', 'list', '--hub-url', hub.url], withCa).code).toBe(0);
  });

  it('a CA file with no PEM certificate in it (--ca, DEVICESTREAMS_CA, the agent\'s --ca) exits 2 naming the file', () => {
    const fromEnv = cli(['device', 'list'], { ...noCa, DEVICESTREAMS_CA: '/etc/passwd' });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.err.trim()).toBe("devicestreams device: CA file /etc/passwd (DEVICESTREAMS_CA) holds no PEM certificate (-----BEGIN CERTIFICATE-----); give the CA that signed the hub's certificate, e.g. DATA-DIR/tls/ca.pem from the hub");
    const garbled = join(tempDir(), 'garbled.pem');
    writeFileSync(garbled, '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n');
    const flag = cli(['streams', 'list', '--ca', garbled], noCa);
    expect(flag.code).toBe(2);
    expect(flag.err).toMatch(new RegExp(`^devicestreams streams: CA file ${garbled} \\(--ca\\) holds a PEM certificate that does not parse`));
    const agent = cli(['agent', '--connection-string', `HostName=localhost:${hub.port};DeviceId=d;SharedAccessKey=a2V5a2V5a2V5a2V5a2V5a2V5`, '--map', 'ssh=127.0.0.1:22', '--ca', '/etc/passwd'], noCa);
    expect(agent.code).toBe(2);
    expect(agent.err).toMatch(/^devicestreams agent: CA file \/etc\/passwd \(--ca\) holds no PEM certificate/);
  });

  it('a hub certificate the command does not trust fails saying to pass --ca FILE or DEVICESTREAMS_CA and where the hub keeps its CA', async () => {
    const none = cli(['device', 'list'], noCa);
    expect(none.code).toBe(1);
    expect(none.err.trim()).toBe(`devicestreams device: cannot reach the hub at https://localhost:${hub.port}: self-signed certificate in certificate chain; this command does not trust the CA that signed the hub's certificate: pass --ca FILE (or set DEVICESTREAMS_CA) with the hub's CA, which a hub with its own CA keeps in DATA-DIR/tls/ca.pem`);
    // Another CA than the hub's: the hint names the file given.
    const otherDir = tempDir();
    const other = await ensureLocalTls(otherDir, []);
    const wrong = cli(['device', 'list', '--ca', other.caFile as string], noCa);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/self-signed certificate in certificate chain; the CA in \S+ \(--ca\) did not sign the hub's certificate: give the hub's CA, which a hub with its own CA keeps in DATA-DIR\/tls\/ca\.pem\n$/);
    expect(wrong.err).toContain(other.caFile as string);
  });

  it('a hub reached by an address its certificate does not name fails saying to use a name the certificate carries', () => {
    // ::ffff:127.0.0.1 reaches the hub on 127.0.0.1, but its certificate names 127.0.0.1, not that.
    const r = cli(['device', 'list', '--hub-url', `https://[::ffff:127.0.0.1]:${hub.port}`], withCa);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/Hostname\/IP does not match certificate's altnames: .*; the hub's certificate is for other names than the one this command used: reach the hub by a name its certificate carries \(--hub-url, or the HostName of the connection string\)/);
  });

  it('the agent, failing to trust the hub, logs the failure with how to trust it', async () => {
    await hub.service.createDevice('connect-agent');
    const cs = await hub.service.deviceConnectionString('connect-agent');
    const agent = spawnCli(['agent', '--map', 'ssh=127.0.0.1:22'], { DEVICE_CONNECTION_STRING: cs, DEVICESTREAMS_CA: '' });
    await agent.waitFor(/cannot connect to the hub: self-signed certificate in certificate chain; this command does not trust the CA that signed the hub's certificate: pass --ca FILE \(or set DEVICESTREAMS_CA\) with the hub's CA, which a hub with its own CA keeps in DATA-DIR\/tls\/ca\.pem\n/);
    agent.kill('SIGTERM');
  });
});
