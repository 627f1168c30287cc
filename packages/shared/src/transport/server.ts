import { createServer, type Server as HttpsServer } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import { PkgfleetError, ProtocolError, describeError } from '../errors';
import type { Logger } from '../log/logger';
import { decode, encode } from '../protocol/codec';
import type { Message, MessageOf } from '../protocol/messages';
import { PROTOCOL_VERSIONS, VERSION } from '../version';
import { credentialProblem, describeScope, type CredentialRecord, type CredentialStore } from './credentials';
import { PSK_IDENTITY_HINT, TLS_CIPHERS, TLS_MIN_VERSION, setSocketIdentity, socketIdentity } from './tls';

/** Named limits with defaults (STYLE.md: limits are options; each refusal names its limit). */
export interface ServerLimits {
  maxMessageBytes: number;
  chunkSize: number;
  maxFileSize: number;
  maxFiles: number;
  heartbeatMs: number;
  /** Time for TLS + WebSocket upgrade + hello, after which an unauthenticated socket is closed. */
  helloTimeoutMs: number;
  /** Bytes queued for the handler before the socket is paused (backpressure). */
  maxQueuedBytes: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  maxMessageBytes: 16 * 1024 * 1024,
  chunkSize: 1024 * 1024,
  maxFileSize: 8 * 1024 * 1024 * 1024,
  maxFiles: 100_000,
  heartbeatMs: 10_000,
  helloTimeoutMs: 5_000,
  maxQueuedBytes: 4 * 1024 * 1024,
};

/** One authenticated peer, as a session handler sees it. */
export interface Connection {
  readonly credential: CredentialRecord;
  readonly peer: string;
  readonly hostname: string | undefined;
  readonly logger: Logger;
  readonly limits: ServerLimits;
  send(msg: Message): void;
  /** Send an error; fatal errors close the connection after sending. */
  sendError(err: unknown, opts?: { name?: string; fatal?: boolean }): void;
  close(reason: string): void;
}

export interface SessionHandler {
  onMessage(msg: Message): Promise<void> | void;
  onBinary(data: Buffer): Promise<void> | void;
  /** Called once when the connection ends, whatever the reason. */
  onClose(reason: string): Promise<void> | void;
}

export interface ServerOptions {
  host: string;
  port: number;
  store: CredentialStore;
  logger: Logger;
  limits?: Partial<ServerLimits>;
  /** Which credential roles may connect. */
  roles: ReadonlyArray<'build' | 'deploy'>;
  createSession(conn: Connection): SessionHandler;
  now?: () => Date;
}

export interface RunningServer {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
  /** Connections open now, for tests and status. */
  connections(): number;
}

function errorMessage(err: unknown, opts: { name?: string; fatal: boolean }): MessageOf<'error'> {
  const e = err instanceof PkgfleetError ? err : undefined;
  return {
    type: 'error',
    code: e?.code ?? 'E_INTERNAL',
    message: (e?.message ?? describeError(err).replace(/^error: /, '')).slice(0, 4000),
    ...(e?.hint ? { hint: e.hint.slice(0, 1000) } : {}),
    ...(opts.name ? { name: opts.name } : {}),
    fatal: opts.fatal,
  };
}

/** Start the TLS-PSK WebSocket server. Resolves once it accepts connections. */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const limits: ServerLimits = { ...DEFAULT_SERVER_LIMITS, ...opts.limits };
  const now = opts.now ?? (() => new Date());
  const log = opts.logger;
  const https: HttpsServer = createServer({
    minVersion: TLS_MIN_VERSION,
    ciphers: TLS_CIPHERS,
    pskIdentityHint: PSK_IDENTITY_HINT,
    handshakeTimeout: limits.helloTimeoutMs,
    pskCallback: (socket: TLSSocket, identity: string) => {
      const rec = opts.store.lookup(identity);
      if (!rec) return null;
      setSocketIdentity(socket, identity);
      return opts.store.secretFor(identity);
    },
  });
  https.on('tlsClientError', (err, socket) => {
    log.warn('rejected a connection during the TLS handshake (unknown credential, wrong secret or not TLS)', { peer: socket.remoteAddress, reason: err.message });
  });
  // Plain HTTP requests (no upgrade) get nothing useful.
  https.on('request', (_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('pkgfleet agents speak WebSocket here\n');
  });

  const wss = new WebSocketServer({ server: https, maxPayload: Math.max(limits.maxMessageBytes, limits.chunkSize + 1024), perMessageDeflate: false });
  const open = new Set<WebSocket>();

  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    const socket = req.socket as TLSSocket;
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    const id = socketIdentity(socket);
    const record = id ? opts.store.lookup(id) : undefined;
    open.add(ws);
    let clog = log.child({ peer, credential: id });
    if (!record) {
      ws.close(1008, 'not authenticated');
      return;
    }
    let handler: SessionHandler | undefined;
    let hostname: string | undefined;
    let closed = false;
    let queue: Promise<void> = Promise.resolve();
    let queuedBytes = 0;
    let paused = false;
    let alive = true;

    const conn: Connection = {
      credential: record,
      peer,
      get hostname() {
        return hostname;
      },
      get logger() {
        return clog;
      },
      limits,
      send(msg) {
        if (ws.readyState === ws.OPEN) ws.send(encode(msg));
      },
      sendError(err, o = {}) {
        const fatal = o.fatal ?? !(err instanceof PkgfleetError) ;
        conn.send(errorMessage(err, { fatal, ...(o.name ? { name: o.name } : {}) }));
        if (fatal) finish(`error: ${err instanceof Error ? err.message : String(err)}`, 1008);
      },
      close(reason) {
        finish(reason, 1000);
      },
    };

    const finish = (reason: string, code: number) => {
      if (closed) return;
      closed = true;
      clearTimeout(helloTimer);
      clearInterval(beat);
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, reason.slice(0, 120));
      setTimeout(() => ws.terminate(), 2000).unref();
      clog.debug('connection closed', { reason });
      const h = handler;
      if (h) queue = queue.then(() => h.onClose(reason)).catch((err) => clog.error('session cleanup failed', { err }));
    };

    const helloTimer = setTimeout(() => {
      if (!handler) {
        clog.warn('closing a connection that sent no hello in time', { helloTimeoutMs: limits.helloTimeoutMs });
        conn.sendError(new ProtocolError('E_HELLO_TIMEOUT', `no hello within ${limits.helloTimeoutMs} ms (helloTimeoutMs)`), { fatal: true });
      }
    }, limits.helloTimeoutMs);

    const beat = setInterval(() => {
      if (!alive) {
        clog.warn('peer stopped answering heartbeats; closing', { heartbeatMs: limits.heartbeatMs });
        finish('heartbeat timeout', 1001);
        ws.terminate();
        return;
      }
      alive = false;
      ws.ping();
      // A credential revoked or expired while connected is cut off at the next beat.
      const current = opts.store.lookup(record.id);
      const problem = current ? credentialProblem(current, now()) : `credential ${record.id} no longer exists`;
      if (problem) conn.sendError(new PkgfleetError('E_CREDENTIAL_REFUSED', problem, 'ask for a new credential'), { fatal: true });
    }, limits.heartbeatMs);
    ws.on('pong', () => {
      alive = true;
    });

    const onHello = (msg: Message) => {
      if (msg.type !== 'hello') throw new ProtocolError('E_OUT_OF_ORDER', `expected hello first, got ${msg.type}`);
      const common = PROTOCOL_VERSIONS.filter((v) => msg.protocols.includes(v));
      if (common.length === 0) {
        throw new ProtocolError('E_PROTOCOL_VERSION', `peer speaks protocol ${msg.protocols.join(', ')}, this server speaks ${PROTOCOL_VERSIONS.join(', ')}`, 'use agents of the same pkgfleet release on both sides');
      }
      const problem = credentialProblem(record, now());
      if (problem) throw new PkgfleetError('E_CREDENTIAL_REFUSED', problem, 'ask for a new credential: `orchestrator-agent credentials issue`');
      if (!opts.roles.includes(record.role)) {
        throw new PkgfleetError('E_CREDENTIAL_REFUSED', `credential ${record.id} is a ${record.role} credential; this server accepts ${opts.roles.join(', ')} credentials`, 'use the credential issued by this server for this purpose');
      }
      hostname = msg.hostname;
      clog = clog.child({ hostname, scope: describeScope(record) });
      clearTimeout(helloTimer);
      conn.send({
        type: 'welcome',
        protocol: Math.max(...common),
        serverVersion: VERSION,
        credential: { id: record.id, role: record.role, ...(record.release ? { release: record.release } : {}), ...(record.target ? { target: record.target } : {}), ...(record.expiresAt ? { expiresAt: record.expiresAt } : {}) },
        limits: { maxFileSize: limits.maxFileSize, maxFiles: limits.maxFiles, chunkSize: limits.chunkSize, heartbeatMs: limits.heartbeatMs },
      });
      clog.info('peer authenticated', { agent: msg.agent, agentVersion: msg.agentVersion });
      handler = opts.createSession(conn);
    };

    /** A message that could not be handled: the error to the peer, and the end of a fatal one. */
    const failed = (err: unknown): void => {
      const fatal = !(err instanceof PkgfleetError) || err instanceof ProtocolError || err.code === 'E_CREDENTIAL_REFUSED' || !handler;
      if (fatal) clog.warn('closing connection', { reason: err instanceof Error ? err.message : String(err) });
      conn.sendError(err, { fatal });
    };

    /**
     * Binary data goes to the handler from this plain function, not from an async one: a
     * suspended async function keeps its parameters, so the chunk would stay alive (and be
     * promoted to the old generation) until the handler's wait for the disk is over.
     */
    const process = (data: RawData, isBinary: boolean): Promise<void> | void => {
      if (closed) return;
      if (!isBinary) return processMessage(data as Buffer);
      try {
        if (!handler) throw new ProtocolError('E_OUT_OF_ORDER', 'binary data before hello');
        return handler.onBinary(data as Buffer)?.catch(failed);
      } catch (err) {
        failed(err);
      }
    };

    const processMessage = async (data: Buffer) => {
      try {
        const msg = decode(data, limits.maxMessageBytes);
        if (msg.type === 'heartbeat') {
          conn.send({ type: 'heartbeat.ack', seq: msg.seq });
          return;
        }
        if (!handler) onHello(msg);
        else if (msg.type === 'bye') finish(`peer said bye: ${msg.reason}`, 1000);
        else await handler.onMessage(msg);
      } catch (err) {
        failed(err);
      }
    };

    /**
     * The callback that gives `size` queued bytes back once their message is handled. Made here,
     * outside the message listener: a closure made inside it would share the listener's context,
     * which holds the message, and keep every chunk alive until it is written.
     */
    const handled = (size: number) => () => {
      queuedBytes -= size;
      if (paused && queuedBytes <= limits.maxQueuedBytes / 2) {
        paused = false;
        ws.resume();
      }
    };
    ws.on('message', (data: RawData, isBinary: boolean) => {
      alive = true;
      const size = (data as Buffer).length ?? 0;
      queuedBytes += size;
      if (!paused && queuedBytes > limits.maxQueuedBytes) {
        paused = true;
        ws.pause();
      }
      queue = queue.then(() => process(data, isBinary)).finally(handled(size));
    });
    ws.on('close', (code, reason) => {
      open.delete(ws);
      finish(`socket closed (${code}${reason.length ? ' ' + reason.toString() : ''})`, code);
    });
    ws.on('error', (err) => {
      clog.warn('connection error', { reason: err.message });
      finish(`socket error: ${err.message}`, 1011);
    });
  });

  await new Promise<void>((resolve, reject) => {
    https.once('error', reject);
    https.listen(opts.port, opts.host, () => {
      https.off('error', reject);
      resolve();
    });
  });
  const addr = https.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  return {
    host: opts.host,
    port,
    connections: () => open.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of open) ws.terminate();
        wss.close();
        https.close(() => resolve());
        https.closeAllConnections?.();
      }),
  };
}
