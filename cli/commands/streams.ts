/** `devicestreams streams …` — the stream log. */
import type { StreamLogEntry } from '../../server/sdk/service-client.js';
import { CliError, numberFlag, parse } from '../args.js';
import { SERVICE_FLAGS, SERVICE_FLAGS_HELP, serviceClientFromFlags } from '../service-flags.js';

const HELP = `
Usage: devicestreams streams <list | show STREAM-ID> [options]

The stream log: one record per initiation with its result, who initiated and who closed it,
timestamps and bytes each way.

Options:
  --device ID                 only this device's streams (list)
  --result R                  only this result: accepted, rejected, deviceNotFound, deviceOffline,
                              responseTimeout, handshakeTimeout, throttled, hubRestart (list)
  --operator NAME             only streams opened for this console operator (list)
  --limit N                   at most N records, newest first (default 50)
  --json                      machine-readable output
${SERVICE_FLAGS_HELP}
  -h, --help                  this help
`;

function human(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function line(s: StreamLogEntry): string {
  const dur = s.durationMs === null ? 'live' : `${(s.durationMs / 1000).toFixed(1)} s`;
  const who = s.operator === null ? s.initiator : `${s.operator} via ${s.initiator}`;
  const closed = s.closedBy === null ? '' : ` closed by ${s.closedBy}${s.reason === null ? '' : ` (${s.reason})`}`;
  const resumed = s.interruptions > 0 ? `, interrupted ${s.interruptions}× resumed ${s.resumes}×${s.interruptedAt === null ? '' : ' (interrupted now)'}` : '';
  const t = s.transfer;
  const transfer = t === null || t === undefined ? '' : `, ${t.direction} ${JSON.stringify(t.name)} ${human(t.size)}`;
  return `${s.createdAt} ${s.streamId} ${s.deviceId}/${s.streamName} ${s.result ?? s.state} by ${who}, ${dur}, ↓${human(s.bytesToDevice)} ↑${human(s.bytesFromDevice)}${transfer}${resumed}${closed}`;
}

export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {
    device: { type: 'string' },
    result: { type: 'string' },
    operator: { type: 'string' },
    limit: { type: 'string' },
    json: { type: 'boolean' },
    ...SERVICE_FLAGS,
  }, HELP);
  const [action, id] = positionals;
  const service = serviceClientFromFlags(values);
  const out = (v: unknown): void => {
    process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
  };
  if (action === 'list' || action === undefined) {
    const { streams } = await service.listStreams({
      deviceId: values.device,
      result: values.result,
      operator: values.operator,
      limit: numberFlag(values.limit, '--limit', 50, 1, 1000),
    });
    if (values.json === true) out(streams);
    else if (streams.length === 0) process.stdout.write('no streams recorded yet\n');
    else for (const s of streams) process.stdout.write(`${line(s)}\n`);
    return;
  }
  if (action === 'show') {
    if (id === undefined) throw new CliError('streams show needs a stream id', 2);
    const s = await service.getStream(id);
    if (values.json === true) out(s);
    else {
      process.stdout.write(`${line(s)}\n`);
      for (const i of s.interruptionLog ?? []) process.stdout.write(`  interrupted ${i.interruptedAt}, ${i.resumedAt === null ? 'not resumed' : `resumed ${i.resumedAt}`}\n`);
    }
    return;
  }
  throw new CliError(`unknown action "${action}": use list or show`, 2);
}
