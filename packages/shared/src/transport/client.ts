import { hostname as osHostname } from 'node:os';
import type { ConnectionOptions } from 'node:tls';
import WebSocket from 'ws';
import { AuthError, PkgfleetError, ProtocolError, TimeoutError, TransferError } from '../errors';
import type { Logger } from '../log/logger';
import { decode, encode, DEFAULT_MAX_MESSAGE_BYTES } from '../protocol/codec';
import type { Message, MessageOf } from '../protocol/messages';
import { PROTOCOL_VERSIONS, VERSION } from '../version';
import type { CredentialFile } from './credentials';
import { TLS_CIPHERS, TLS_MIN_VERSION } from './tls';

export interface ClientOptions {
  agent: 'build-agent' | 'orchestrator-agent' | 'repo-agent';
  logger: Logger;
  /** Deadline for TCP + TLS + WebSocket + hello/welcome. */
  connectTimeoutMs?: number;
  /** Bytes buffered in the socket before sendBinary waits (backpressure). */
  highWaterMark?: number;
  /** Declare the server dead after this long without any frame from it. */
  deadAfterMs?: number;
}

/** A peer that answered with a protocol error message. */
export class RemoteError extends PkgfleetError {
  constructor(
    readonly remote: MessageOf<'error'>,
    readonly server: string,
  ) {
    super(remote.code as `E_${string}`, `${server}: ${remote.message}`, remote.hint);
  }
}

/**
 * An authenticated connection to a pkgfleet server: TLS 1.3 with the credential's pre-shared key,
 * then hello/welcome. Messages arrive in an inbox that `next()` reads in order.
 */
export class ClientConnection {
  private inbox: Message[] = [];
  private waiters: Array<{ resolve: (m: Message) => void; reject: (e: Error) => void }> = [];
  private failure: Error | undefined;
  private lastFrame = Date.now();
  private deadTimer: NodeJS.Timeout | undefined;
  welcome!: MessageOf<'welcome'>;
  /** Binary bytes handed to the socket, for progress and counters. */
  bytesSent = 0;

  private constructor(
    private readonly ws: WebSocket,
    readonly url: string,
    private readonly opts: Required<Omit<ClientOptions, 'logger' | 'agent'>> & ClientOptions,
  ) {}

  static async connect(cred: CredentialFile, opts: ClientOptions): Promise<ClientConnection> {
    const full = { connectTimeoutMs: 15_000, highWaterMark: 4 * 1024 * 1024, deadAfterMs: 45_000, ...opts };
    const secret = Buffer.from(cred.secret, 'hex');
    // ws passes TLS options through to tls.connect; its typings do not list the PSK ones.
    const tlsOptions: ConnectionOptions = {
      minVersion: TLS_MIN_VERSION,
      ciphers: TLS_CIPHERS,
      pskCallback: () => ({ psk: secret, identity: cred.id }),
      // The pre-shared key authenticates the server; there is no certificate to check.
      checkServerIdentity: () => undefined,
    };
    const ws = new WebSocket(cred.url, {
      ...(tlsOptions as WebSocket.ClientOptions),
      handshakeTimeout: full.connectTimeoutMs,
      maxPayload: DEFAULT_MAX_MESSAGE_BYTES,
      perMessageDeflate: false,
      // RFC 6455 masking protects plaintext intermediaries (proxy caches) from browser-made
      // frames; inside TLS no intermediary sees the frames, so a zero mask (which ws and the
      // receiver then skip) saves a full pass over every byte sent.
      generateMask: (mask: Buffer) => mask.fill(0),
    });
    const conn = new ClientConnection(ws, cred.url, full);
    await conn.open(cred);
    return conn;
  }

  private async open(cred: CredentialFile): Promise<void> {
    const { ws, url } = this;
    const deadline = setTimeout(() => this.fail(new TimeoutError('E_CONNECT_TIMEOUT', `no answer from ${url} within ${this.opts.connectTimeoutMs} ms (connect timeout)`, 'check that the server runs and that the address and port are reachable from here')), this.opts.connectTimeoutMs);
    ws.on('message', (data, isBinary) => {
      this.lastFrame = Date.now();
      if (isBinary) return this.fail(new ProtocolError('E_UNEXPECTED_BINARY', `${url} sent binary data; only control messages are expected`));
      let msg: Message;
      try {
        msg = decode(data as Buffer);
      } catch (err) {
        return this.fail(err as Error);
      }
      if (msg.type === 'error' && msg.fatal) return this.fail(new RemoteError(msg, url));
      this.deliver(msg);
    });
    ws.on('ping', () => {
      this.lastFrame = Date.now();
    });
    ws.on('pong', () => {
      this.lastFrame = Date.now();
    });
    ws.on('error', (err) => this.fail(translateSocketError(err, url, cred.id)));
    ws.on('close', (code, reason) => this.fail(new TransferError('E_DISCONNECTED', `${url} closed the connection (${code}${reason.length ? ': ' + reason.toString() : ''})`, 'it will be retried; if it persists, check the server log')));
    ws.on('unexpected-response', (_req, res) => this.fail(new ProtocolError('E_NOT_PKGFLEET', `${url} answered HTTP ${res.statusCode} instead of a WebSocket upgrade`, 'check the URL in the credential: it must point at a pkgfleet agent')));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      const w = { resolve: () => {}, reject };
      this.waiters.push(w);
    }).finally(() => {
      this.waiters = [];
    });
    this.send({ type: 'hello', protocols: [...PROTOCOL_VERSIONS], agent: this.opts.agent, agentVersion: VERSION, hostname: osHostname() });
    try {
      this.welcome = await this.next(['welcome'], this.opts.connectTimeoutMs, 'the server\'s welcome');
    } finally {
      clearTimeout(deadline);
    }
    this.deadTimer = setInterval(() => {
      const quiet = Date.now() - this.lastFrame;
      if (quiet > this.opts.deadAfterMs) {
        this.fail(new TimeoutError('E_PEER_DEAD', `${url} sent nothing for ${Math.round(quiet / 1000)} s (no heartbeat; deadAfterMs ${this.opts.deadAfterMs})`, 'the server or the network path died; it will be retried'));
        ws.terminate();
      } else if (quiet > this.opts.deadAfterMs / 3) {
        ws.ping();
      }
    }, Math.min(5_000, this.opts.deadAfterMs / 3));
    this.deadTimer.unref();
  }

  private deliver(msg: Message): void {
    const w = this.waiters.shift();
    if (w) w.resolve(msg);
    else this.inbox.push(msg);
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    if (this.deadTimer) clearInterval(this.deadTimer);
    for (const w of this.waiters.splice(0)) w.reject(err);
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    else if (this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  send(msg: Message): void {
    if (this.failure) throw this.failure;
    this.ws.send(encode(msg));
  }

  /** Frames handed to ws whose write has not completed yet, oldest first. */
  private inFlight: Array<Promise<void>> = [];

  /**
   * Send one binary frame. Resolves at once while less than the high-water mark is buffered;
   * above it, waits for the oldest frame still in flight (not the newest), so the socket never
   * runs dry while the next chunk is read from disk. `onWritten` runs once the socket is done
   * with `data` (the caller may then reuse the buffer).
   */
  async sendBinary(data: Buffer, onWritten?: () => void): Promise<void> {
    if (this.failure) throw this.failure;
    this.bytesSent += data.length;
    const written = new Promise<void>((resolve, reject) => {
      this.ws.send(data, { binary: true }, (err) => {
        if (err) return reject(this.failure ?? err);
        onWritten?.();
        resolve();
      });
    });
    written.catch(() => {});
    this.inFlight.push(written);
    while (this.ws.bufferedAmount >= this.opts.highWaterMark && this.inFlight.length > 0) {
      await this.inFlight.shift();
      if (this.failure) throw this.failure;
    }
    // Forget frames that are written already (they resolved; keep the list short).
    if (this.inFlight.length > 256) this.inFlight.splice(0, this.inFlight.length - 64);
  }

  /**
   * The next message, in order. When `types` is given, anything else is a protocol error.
   * Times out with a message saying what was awaited.
   */
  next<T extends Message['type']>(types: readonly T[] | undefined, timeoutMs: number, what: string): Promise<MessageOf<T>> {
    if (this.failure) return Promise.reject(this.failure);
    const check = (m: Message): MessageOf<T> => {
      if (types && !types.includes(m.type as T)) {
        if (m.type === 'error') throw new RemoteError(m, this.url);
        throw new ProtocolError('E_OUT_OF_ORDER', `${this.url} sent ${m.type} while waiting for ${what}`);
      }
      return m as MessageOf<T>;
    };
    const queued = this.inbox.shift();
    if (queued) {
      try {
        return Promise.resolve(check(queued));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return new Promise<MessageOf<T>>((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new TimeoutError('E_TIMEOUT', `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what} from ${this.url}`, 'the server may be overloaded or stuck; check its log'));
      }, timeoutMs);
      const w = {
        resolve: (m: Message) => {
          clearTimeout(timer);
          try {
            resolve(check(m));
          } catch (err) {
            reject(err as Error);
          }
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.waiters.push(w);
    });
  }

  close(reason = 'done'): void {
    if (!this.failure && this.ws.readyState === WebSocket.OPEN) {
      try {
        this.ws.send(encode({ type: 'bye', reason }));
      } catch {
        /* closing anyway */
      }
    }
    this.failure ??= new TransferError('E_CLOSED', 'connection closed');
    if (this.deadTimer) clearInterval(this.deadTimer);
    this.ws.close(1000);
    setTimeout(() => this.ws.terminate(), 1000).unref();
  }
}

/** Turn socket and TLS errors into messages that say what to do. */
export function translateSocketError(err: Error, url: string, credentialId: string): Error {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const text = err.message;
  if (code === 'ECONNREFUSED') return new TransferError('E_UNREACHABLE', `cannot reach ${url}: connection refused`, 'is the agent\'s `serve` running and listening on that address?', { cause: err });
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new TransferError('E_UNREACHABLE', `cannot reach ${url}: ${code}`, 'check the address in the credential and the private network', { cause: err });
  if (code === 'ECONNRESET' || code === 'EPIPE') return new TransferError('E_DISCONNECTED', `${url} reset the connection`, 'it will be retried', { cause: err });
  if (/alert|handshake|decrypt|psk|bad record mac|ERR_SSL|ERR_TLS/i.test(code + ' ' + text)) {
    return new AuthError('E_AUTH', `${url} refused credential ${credentialId} during the TLS handshake (unknown credential or wrong secret): ${text}`, 'the credential may have been issued by another server or its trust store was reset: ask for a new credential', { cause: err });
  }
  if (/wrong version number|unexpected message|packet length too long/i.test(text)) return new ProtocolError('E_NOT_PKGFLEET', `${url} does not speak TLS 1.3 with pre-shared keys: ${text}`, 'check the URL in the credential', { cause: err });
  return new TransferError('E_CONNECTION', `connection to ${url} failed: ${text}`, undefined, { cause: err });
}
