import type { ConsoleStream } from '../../../shared/console-api';
import { formatBytes } from '../format';

/** A history row's file transfer, when the stream was one: direction, the path on the device and its size. */
export function TransferLabel({ stream: s }: { stream: ConsoleStream }) {
  const t = s.transfer;
  if (t === null || t === undefined) return null;
  return (
    <span className="sub transfer-label" title={`File ${t.direction}: ${t.name}, ${t.size} bytes ${t.direction === 'upload' ? 'to' : 'from'} the device`}>
      {t.direction === 'upload' ? 'uploaded' : 'downloaded'} <span className="mono">{t.name}</span> ({formatBytes(t.size)})
    </span>
  );
}
