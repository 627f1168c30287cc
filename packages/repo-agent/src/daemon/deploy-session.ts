import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { ProtocolError, type Connection, type Message, type SessionHandler } from '@pkgfleet/shared';
import { beginDeploy, type DeployOptions, type DeployResult, type PendingDeploy } from '../deploy/receive';
import type { Store } from '../store/store';

export type DeploySessionOptions = Omit<DeployOptions, 'id' | 'activate' | 'counter' | 'logger'>;

/**
 * One orchestrator's deploy connection: deploy.offer (manifest) → deploy.lacking → binary frames
 * of a tar stream of exactly that content → deploy.end → deploy.done. The store does the checking
 * (hashes, tar entries, signatures against the trusted key) and the atomic swap; a dropped
 * connection aborts the staged snapshot and leaves `current` as it was.
 */
export function createDeploySession(conn: Connection, store: Store, opts: DeploySessionOptions): SessionHandler {
  let pending: PendingDeploy | undefined;
  let tar: PassThrough | undefined;
  let result: Promise<DeployResult> | undefined;
  const log = conn.logger;

  const reset = () => {
    pending = undefined;
    tar = undefined;
    result = undefined;
  };

  return {
    async onMessage(msg: Message) {
      switch (msg.type) {
        case 'deploy.offer': {
          if (pending) throw new ProtocolError('E_OUT_OF_ORDER', `deploy.offer while deploy ${pending.id} is still receiving`);
          pending = await beginDeploy(store, msg.manifest as never, { ...opts, activate: msg.activate, logger: log, spare: true });
          tar = new PassThrough({ highWaterMark: 4 << 20 });
          result = pending.receive(tar);
          // Surface a failure as soon as it happens (e.g. a refused tar entry), not only at deploy.end.
          result.catch(() => {});
          conn.send({ type: 'deploy.lacking', id: pending.id, entries: pending.lacking.map(({ path, size, sha256, mode }) => ({ path, size, sha256, mode })) });
          log.info('deploy offered', { id: pending.id, lacking: pending.lacking.length, lackingBytes: pending.lacking.reduce((n, e) => n + e.size, 0) });
          return;
        }
        case 'deploy.end': {
          if (!pending || !tar || !result) throw new ProtocolError('E_OUT_OF_ORDER', 'deploy.end without deploy.offer');
          const id = pending.id;
          tar.end();
          try {
            const r = await result;
            conn.send({
              type: 'deploy.done',
              id: r.id,
              activated: r.activated,
              ...(r.previous ? { previous: r.previous } : {}),
              files: r.files,
              bytes: r.bytes,
              bytesReceived: r.counter.bytesReceived,
              filesReceived: r.counter.filesReceived,
              filesLinked: r.counter.filesLinked,
            });
            log.info(r.activated ? 'snapshot deployed and live' : 'snapshot deployed (not activated)', { id: r.id, previous: r.previous, files: r.files, filesReceived: r.counter.filesReceived, bytesReceived: r.counter.bytesReceived, filesLinked: r.counter.filesLinked });
          } catch (err) {
            log.warn('deploy refused', { id, reason: (err as Error).message });
            conn.sendError(err, { fatal: false });
          } finally {
            reset();
          }
          return;
        }
        default:
          throw new ProtocolError('E_UNEXPECTED', `unexpected ${msg.type} from an orchestrator`);
      }
    },
    async onBinary(data: Buffer) {
      if (!tar || !result) throw new ProtocolError('E_OUT_OF_ORDER', 'binary data outside deploy.offer … deploy.end');
      if (!tar.write(data)) {
        // Wait for the store to take more, unless it already gave up on this deploy.
        const failed = result.then(() => undefined, (err: unknown) => err);
        const err = await Promise.race([once(tar, 'drain').then(() => undefined), failed]);
        if (err) {
          // The store refused the snapshot: say why and end the connection (the sender is mid-stream).
          reset();
          log.warn('deploy refused', { reason: (err as Error).message });
          conn.sendError(err, { fatal: true });
        }
      }
    },
    async onClose(reason: string) {
      if (tar && result) {
        log.warn('orchestrator went away mid-deploy; nothing was activated', { id: pending?.id, reason });
        tar.destroy(new Error(`connection closed: ${reason}`));
        await result.catch(() => {});
        reset();
      } else if (pending) {
        await pending.abort().catch(() => {});
        reset();
      }
    },
  };
}
