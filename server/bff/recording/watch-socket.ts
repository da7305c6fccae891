/**
 * An admin's read-only view of a live terminal over the console's watch socket: the screen so far,
 * then every frame as it happens, then "ended". The session may be bridged by this node (the
 * recorder follows it) or by another node of a cluster (the frames come over the bus). Bounded: a
 * watcher further behind than WATCHER_MAX_BUFFER is cut off rather than buffered for.
 */
import type { WebSocket } from 'ws';
import type { TerminalViewer } from './recorder.js';

/** A watcher further behind than this is disconnected rather than buffered for. */
export const WATCHER_MAX_BUFFER = 4 * 1024 * 1024;

/** Starts the view on `ws` with `snapshot` and returns the viewer that feeds it afterwards. */
export function watchSocketViewer(ws: WebSocket, streamId: string, snapshot: readonly Uint8Array[], onGone: () => void): TerminalViewer {
  ws.send(JSON.stringify({ type: 'status', phase: 'connected', streamId }));
  for (const frame of snapshot) ws.send(frame, { binary: true });
  // Whatever a watcher sends is dropped: the view is read-only.
  ws.on('message', () => undefined);
  ws.once('close', onGone);
  return {
    frame(frame) {
      if (ws.readyState !== ws.OPEN) return;
      if (ws.bufferedAmount > WATCHER_MAX_BUFFER) {
        onGone();
        ws.close(1013, 'watcher too slow');
        return;
      }
      ws.send(frame, { binary: true });
    },
    ended() {
      if (ws.readyState !== ws.OPEN) return;
      ws.send(JSON.stringify({ type: 'status', phase: 'ended' }));
      ws.close(1000, 'session ended');
    },
  };
}

/** Shows `ws` the live session `streamId` bridged by this node; false when it is not live here. */
export function watchLocal(follow: (streamId: string, viewer: TerminalViewer) => { snapshot: Uint8Array[]; stop(): void } | undefined, streamId: string, ws: WebSocket): boolean {
  const to: { viewer?: TerminalViewer } = {};
  // Frames cannot arrive between follow() and the assignment below (one thread), so none is lost.
  const followed = follow(streamId, { frame: (f) => to.viewer?.frame(f), ended: () => to.viewer?.ended() });
  if (followed === undefined) return false;
  to.viewer = watchSocketViewer(ws, streamId, followed.snapshot, () => followed.stop());
  return true;
}
