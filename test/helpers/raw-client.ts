import { readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { connect as tcpConnect } from 'node:net';
import WebSocket from 'ws';

/**
 * A deliberately misbehaving peer for negative tests: it authenticates with a real credential
 * (or a forged one) and then sends whatever the test says, bypassing the agents' own checks.
 */
export interface RawPeer {
  ws: WebSocket;
  received: Array<Record<string, unknown>>;
  closed: Promise<{ code: number; reason: string; afterMs: number }>;
  sendJson(obj: unknown): void;
  sendText(text: string): void;
  sendBinary(buf: Buffer): void;
  next(type: string, timeoutMs?: number): Promise<Record<string, unknown>>;
}

export async function rawPeer(credPath: string, opts: { hello?: boolean; secret?: string; id?: string; protocols?: number[] } = {}): Promise<RawPeer> {
  const cred = JSON.parse(readFileSync(credPath, 'utf8')) as { url: string; id: string; secret: string };
  const started = Date.now();
  const tlsOptions = {
    minVersion: 'TLSv1.3',
    ciphers: 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256',
    pskCallback: () => ({ psk: Buffer.from(opts.secret ?? cred.secret, 'hex'), identity: opts.id ?? cred.id }),
    checkServerIdentity: () => undefined,
  };
  const ws = new WebSocket(cred.url, { ...(tlsOptions as unknown as WebSocket.ClientOptions), perMessageDeflate: false });
  const received: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (d, isBinary) => {
    if (!isBinary) received.push(JSON.parse(d.toString()) as Record<string, unknown>);
    waiters.splice(0).forEach((w) => w());
  });
  const closed = new Promise<{ code: number; reason: string; afterMs: number }>((resolve) => {
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString(), afterMs: Date.now() - started }));
    ws.on('error', () => {});
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const peer: RawPeer = {
    ws,
    received,
    closed,
    sendJson: (o) => ws.send(JSON.stringify(o)),
    sendText: (t) => ws.send(t),
    sendBinary: (b) => ws.send(b, { binary: true }),
    next: async (type, timeoutMs = 10_000) => {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const m = received.find((r) => r.type === type);
        if (m) {
          received.splice(received.indexOf(m), 1);
          return m;
        }
        if (Date.now() > end || ws.readyState === ws.CLOSED) throw new Error(`no ${type} message (got ${JSON.stringify(received)})`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 100);
        });
      }
    },
  };
  if (opts.hello !== false) {
    peer.sendJson({ type: 'hello', protocols: opts.protocols ?? [1], agent: 'build-agent', agentVersion: 'test' });
    await peer.next('welcome');
  }
  return peer;
}

/** Open a TLS connection with an unknown identity; resolves with how it ended. */
export function tlsWithUnknownIdentity(host: string, port: number): Promise<{ error: string; afterMs: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const sock = tlsConnect({ host, port, minVersion: 'TLSv1.3', ciphers: 'TLS_AES_256_GCM_SHA384', pskCallback: () => ({ psk: Buffer.alloc(32, 1), identity: 'build-0123456789abcdef0123' }), checkServerIdentity: () => undefined });
    sock.on('error', (err) => resolve({ error: err.message, afterMs: Date.now() - started }));
    sock.on('secureConnect', () => resolve({ error: 'connected', afterMs: Date.now() - started }));
  });
}

/** Open a TCP connection that never says anything; resolves when the server closes it. */
export function silentTcp(host: string, port: number): Promise<{ afterMs: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const sock = tcpConnect({ host, port });
    sock.on('close', () => resolve({ afterMs: Date.now() - started }));
    sock.on('error', () => {});
  });
}
