import { AuthError, IncomingStore, PushSessionMachine, ProtocolError, releaseMemory, type Connection, type FileWriter, type Message, type SessionHandler } from '@pkgfleet/shared';
import type { Registrations } from './registrations';

/**
 * One build machine's connection: pushes land in the incoming store; `register` records the
 * machine for `machines create --wait`. The state machine checks order; this does the I/O.
 */
/**
 * Files of one connection that may be landing (fsync, rename, record) at the same time. With the
 * sender's 256 unconfirmed files (sender.ts), 1000 x 64 KiB push in 0.75-0.89 s; with 32 and 64,
 * 0.94-1.13 s (the fsyncs and group commits waited in turn).
 */
const MAX_LANDING = 128;
/** Bytes of landing files still waiting for the disk, across them (memory stays bounded). */
const MAX_LANDING_UNWRITTEN = 8 * 1024 * 1024;

export function createBuildSession(conn: Connection, store: IncomingStore, registrations: Registrations): SessionHandler {
  const cred = conn.credential;
  if (cred.role !== 'build' || !cred.release || !cred.target) throw new AuthError('E_CREDENTIAL_REFUSED', `credential ${cred.id} is not a build credential`);
  const scope = { release: cred.release, target: cred.target };
  const machine = new PushSessionMachine(scope, conn.limits);
  const pushedBy = `${cred.id}@${conn.hostname ?? conn.peer}`;
  let writer: FileWriter | undefined;
  const landings = new Set<Promise<void>>();
  let landingUnwritten = 0;
  /** Resolves the wait for a landing slot (one waiter at most: messages are handled in order). */
  let slotFreed: (() => void) | undefined;
  let registered = false;
  let beat: NodeJS.Timeout | undefined;
  const log = conn.logger;

  const touch = async (connected: boolean) => {
    const prev = await registrations.read(scope.release, scope.target);
    if (prev) await registrations.write({ ...prev, lastSeen: new Date().toISOString(), connected });
  };

  return {
    async onMessage(msg: Message) {
      switch (msg.type) {
        case 'push.offer': {
          machine.onOffer(msg);
          const files = await store.status(scope.release, scope.target, msg.files, msg.replace);
          conn.send({ type: 'push.status', files });
          log.info('push offered', { release: scope.release, target: scope.target, files: msg.files.length, missing: files.filter((f) => f.state !== 'complete').length });
          return;
        }
        case 'file.begin': {
          const cur = machine.onBegin(msg);
          try {
            writer = await store.begin(scope.release, scope.target, cur, machine.replace);
          } catch (err) {
            machine.closeCurrent();
            throw err;
          }
          return;
        }
        case 'file.end': {
          const cur = machine.onEnd(msg);
          const w = writer!;
          writer = undefined;
          machine.closeCurrent();
          // Land in the background (fsync, hash check, rename, group-committed manifest) while the
          // next file streams in; at most MAX_LANDING at once.
          const landing = w.finish(pushedBy, cur.sha256).then(
            (landed) => {
              conn.send({ type: 'file.done', name: cur.name, sha256: cur.sha256, bytesReceived: landed.bytesReceived });
              log.info('file landed', { release: scope.release, target: scope.target, file: cur.name, size: cur.size, bytesReceived: landed.bytesReceived, resumedFrom: landed.resumedFrom });
            },
            (err: unknown) => {
              log.warn('file refused', { file: cur.name, reason: (err as Error).message });
              conn.sendError(err, { name: cur.name, fatal: (err as { code?: string }).code === 'E_DISK_FULL' });
            },
          );
          const unwritten = w.unwrittenBytes;
          landingUnwritten += unwritten;
          landings.add(landing);
          void landing.finally(() => {
            landings.delete(landing);
            landingUnwritten -= unwritten;
            slotFreed?.();
          });
          // (not Promise.race over the landings: each call would leave a reaction on every one)
          while (landings.size >= MAX_LANDING || landingUnwritten > MAX_LANDING_UNWRITTEN) {
            await new Promise<void>((resolve) => (slotFreed = resolve));
            slotFreed = undefined;
          }
          return;
        }
        case 'register': {
          if (msg.release !== scope.release || msg.target !== scope.target) {
            throw new AuthError('E_CREDENTIAL_SCOPE', `this credential is for release ${scope.release} target ${scope.target}, not release ${msg.release} target ${msg.target}`, 'use the credential issued for this machine');
          }
          const now = new Date().toISOString();
          await registrations.write({ release: scope.release, target: scope.target, hostname: msg.hostname, peer: conn.peer, credentialId: cred.id, agentVersion: msg.agentVersion, registeredAt: now, lastSeen: now, connected: true });
          registered = true;
          // lastSeen on disk follows the connection's liveness (the transport drops dead peers).
          beat = setInterval(() => void touch(true).catch(() => {}), conn.limits.heartbeatMs);
          conn.send({ type: 'registered', release: scope.release, target: scope.target });
          log.info('build machine registered', { release: scope.release, target: scope.target, hostname: msg.hostname });
          return;
        }
        default:
          throw new ProtocolError('E_UNEXPECTED', `unexpected ${msg.type} from a build agent`);
      }
    },
    // Not async: a suspended async function keeps its parameters, and the chunk would wait with
    // it for the disk (FileWriter copies what must wait, so that the chunk itself dies young).
    onBinary(data: Buffer) {
      const cur = machine.onData(data.length);
      return writer!.write(data).catch((err: unknown) => {
        // The writer already removed the part (e.g. disk full): end this connection cleanly.
        writer = undefined;
        machine.closeCurrent();
        log.warn('receive failed', { file: cur.name, reason: (err as Error).message });
        conn.sendError(err, { name: cur.name, fatal: true });
      });
    },
    async onClose(reason: string) {
      if (beat) clearInterval(beat);
      await Promise.all(landings);
      if (writer) {
        log.info('connection ended mid-file; keeping the part for a resume', { file: machine.current?.name, reason });
        await writer.abort(false);
        writer = undefined;
      }
      releaseMemory();
      if (registered) await touch(false).catch(() => {});
    },
  };
}
