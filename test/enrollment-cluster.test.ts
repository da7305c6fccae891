/**
 * Enrollment on a two-node cluster (PostgreSQL, NATS, haproxy): a token made through the balancer
 * is good on any node, once — of parallel uses sent to both nodes directly exactly one wins — and a
 * device enrolled on one node connects, with its agent version seen from the other.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEnrollmentToken } from '../server/sdk/enrollment-client.js';
import { createServiceClient, type ServiceClient } from '../server/sdk/service-client.js';
import type { EnrollAnswer } from '../shared/enrollment.js';
import { DsError, ErrorCode } from '../shared/errors.js';
import { postJson } from '../shared/http-json.js';
import { sleep, spawnCli, stopAll } from './harness.js';
import { until } from './console-client.js';
import { startTestCluster, type TestCluster } from './fixtures/cluster.js';

let c: TestCluster;
const via: ServiceClient[] = [];

beforeAll(async () => {
  c = await startTestCluster({ nodes: 2 });
  for (const n of c.nodes) via.push(createServiceClient(c.handle.ownerCs, { ca: c.handle.ca, hubUrl: n.url }));
}, 120_000);
afterAll(stopAll);

/** POST /enroll on node `index`; the hub's answer, or its typed error. */
async function enrollOn(index: number, body: unknown): Promise<EnrollAnswer | DsError> {
  try {
    return (await postJson(`${c.nodes[index]?.url ?? ''}/enroll`, {}, body, { ca: c.handle.ca })) as EnrollAnswer;
  } catch (err) {
    if (err instanceof DsError) return err;
    throw err;
  }
}

describe('enrollment on a cluster', () => {
  it('lets exactly one of parallel uses on both nodes register a device, for each of several tokens', async () => {
    for (let round = 0; round < 3; round++) {
      const t = await createEnrollmentToken(c.handle.service, { target: `crace${round}-*` });
      const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => enrollOn(i % 2, { token: t.token, deviceId: `crace${round}-${i}` })));
      const won = answers.filter((a): a is EnrollAnswer => !(a instanceof DsError));
      expect(won).toHaveLength(1);
      for (const a of answers) if (a instanceof DsError) expect(a.code).toBe(ErrorCode.EnrollmentTokenUsed);
      const listed = (await c.handle.service.listDevicePage({ search: `crace${round}-` })).devices.map((d) => d.deviceId);
      expect(listed).toEqual([won[0]?.deviceId]);
    }
  });

  it('takes a token made on one node on the other, once; the device connects and the other node shows its agent', async () => {
    const t = await createEnrollmentToken(via[0] as ServiceClient, { target: 'cluster-enrolled', tags: { site: 'c' } });
    const answer = await enrollOn(1, { token: t.token });
    if (answer instanceof DsError) throw answer;
    expect(answer).toMatchObject({ deviceId: 'cluster-enrolled', hostName: new URL(c.handle.url).host, tags: { site: 'c' } });
    const again = await enrollOn(0, { token: t.token });
    expect(again).toBeInstanceOf(DsError);
    expect((again as DsError).message).toMatch(/^this enrollment token was already used on \S+ by device "cluster-enrolled"/);

    const agent = spawnCli(['agent', '--ca', c.handle.caFile, '--map', 'echo=127.0.0.1:9', '--hub-url', c.nodes[1]?.url ?? ''], { DEVICE_CONNECTION_STRING: answer.connectionString });
    await agent.waitFor(/connected to the hub/);
    await until(async () => (await (via[0] as ServiceClient).getDevice('cluster-enrolled')).agent != null, 10_000, 'agent seen from node 0');
    expect(await (via[0] as ServiceClient).getDevice('cluster-enrolled')).toMatchObject({ connectionState: 'Connected', agent: expect.stringMatching(/^devicestreams-agent\/\d+\.\d+\.\d+$/) as unknown });
  });

  it('refuses an expired token on every node', async () => {
    const t = await createEnrollmentToken(c.handle.service, { target: 'cluster-late', ttlSeconds: 1 });
    await sleep(1100);
    for (const i of [0, 1]) expect(await enrollOn(i, { token: t.token })).toMatchObject({ code: ErrorCode.EnrollmentTokenExpired });
  });
});
