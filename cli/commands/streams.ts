/** `devicestreams streams …` — the stream log. */
import type { StreamLogEntry } from '../../server/sdk/service-client.js';
import { STREAM_RESULTS } from '../../server/store/records.js';
import { CliError, numberFlag, parse } from '../args.js';
import { SERVICE_FLAGS, SERVICE_FLAGS_HELP, serviceClientFromFlags } from '../service-flags.js';

/** `words` joined by commas in lines that end by column 100, each starting in the help's second column. */
function column(words: readonly string[]): string {
  const lines = [''];
  for (const [i, w] of words.entries()) {
    const item = `${w}${i < words.length - 1 ? ',' : ''}`;
    const last = lines.length - 1;
    if (lines[last] === '') lines[last] = item;
    else if (`${lines[last]} ${item}`.length > 70) lines.push(item);
    else lines[last] = `${lines[last]} ${item}`;
  }
  return lines.map((l) => `${' '.repeat(30)}${l}`).join('\n');
}

const HELP = `
Usage: devicestreams streams <list | show STREAM-ID> [options]

The stream log: one record per initiation with its result, who initiated and who closed it,
timestamps and bytes each way.

Options:
  --device ID                 only this device's streams (list)
  --result R                  only this result (list), one of:
${column(STREAM_RESULTS)}
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
  // An ended stream may keep the time of its last interruption (one that was never resumed).
  const now = s.interruptedAt !== null && s.state !== 'ended' ? ' (interrupted now)' : '';
  const resumed = s.interruptions > 0 ? `, interrupted ${s.interruptions}× resumed ${s.resumes}×${now}` : '';
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
  const [action, id, ...extra] = positionals;
  if (action !== undefined && action !== 'list' && action !== 'show') throw new CliError(`unknown action "${action}": use list or show`, 2);
  if (action === 'show' && id === undefined) throw new CliError('streams show needs a stream id', 2);
  const unexpected = action === 'show' ? extra[0] : id;
  if (unexpected !== undefined) throw new CliError(`unexpected argument "${unexpected}"`, 2);
  if (values.result !== undefined && !(STREAM_RESULTS as readonly string[]).includes(values.result)) {
    throw new CliError(`--result "${values.result}" is not a result: use one of ${STREAM_RESULTS.join(', ')}`, 2);
  }
  const limit = numberFlag(values.limit, '--limit', 50, 1, 1000);
  const service = serviceClientFromFlags(values);
  const out = (v: unknown): void => {
    process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
  };
  if (action === 'show') {
    const s = await service.getStream(id as string);
    if (values.json === true) out(s);
    else {
      process.stdout.write(`${line(s)}\n`);
      for (const i of s.interruptionLog ?? []) process.stdout.write(`  interrupted ${i.interruptedAt}, ${i.resumedAt === null ? 'not resumed' : `resumed ${i.resumedAt}`}\n`);
    }
    return;
  }
  const { streams } = await service.listStreams({ deviceId: values.device, result: values.result, operator: values.operator, limit });
  const filters = (['device', 'result', 'operator'] as const).filter((f) => values[f] !== undefined).map((f) => `--${f} ${JSON.stringify(values[f])}`);
  if (values.json === true) out(streams);
  else if (streams.length > 0) for (const s of streams) process.stdout.write(`${line(s)}\n`);
  else process.stdout.write(filters.length > 0 ? `no streams match ${filters.join(' ')}\n` : 'no streams recorded yet\n');
}
