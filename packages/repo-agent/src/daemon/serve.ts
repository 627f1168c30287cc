import { authority, parseListen, type Logger } from '@pkgfleet/shared';
import { startHttpServer } from './http';

/**
 * The repo-agent service: the parts that listen, started together and stopped together. Today
 * the HTTP server for the live snapshot; the deploy listener (--listen) joins as one more part.
 */
export interface ServePart {
  /** What it is, for logs: "http", "deploy". */
  name: string;
  /** HOST:PORT it accepts connections on. */
  address: string;
  close(): Promise<void>;
}

export interface ServeOptions {
  /** The `current` symlink the HTTP server serves. */
  currentLink: string;
  /** HOST:PORT for HTTP, or undefined to not serve HTTP. */
  http: string | undefined;
  logger: Logger;
}

export async function startHttpPart(opts: ServeOptions): Promise<ServePart | undefined> {
  if (!opts.http) return undefined;
  const { host, port } = parseListen(opts.http, '--http');
  const srv = await startHttpServer(host, port, { root: opts.currentLink, logger: opts.logger });
  return { name: 'http', address: authority(host, srv.port), close: () => srv.close() };
}

/** Stop every part, the last started first. */
export async function stopParts(parts: ServePart[]): Promise<void> {
  for (const p of [...parts].reverse()) await p.close().catch(() => {});
}
