import { constants as fsc } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join, sep } from 'node:path';
import type { Logger } from '@pkgfleet/shared';
import { cacheControlOf, contentTypeOf } from './content';

/**
 * Serving the live snapshot over HTTP (the embedded default; nginx in production). `current` is
 * resolved once per request, so a swap takes effect between requests, and a request that has
 * opened its file keeps reading it after a swap or gc. GET and HEAD; single Range (206/416) with
 * If-Range; ETag/If-None-Match and Last-Modified/If-Modified-Since (304); no directory listing;
 * nothing outside the live snapshot (.., encoded variants, symlinks leading out).
 */
export interface HttpOptions {
  /** The `current` symlink (or any directory) to serve. */
  root: string;
  logger?: Logger;
}

type Answer = { status: number; reason: string };

/** The path segments of a request target, or why it is refused (400). */
export function requestSegments(target: string): string[] | Answer {
  const raw = target.split(/[?#]/, 1)[0]!;
  if (!raw.startsWith('/')) return { status: 400, reason: 'request target must be an absolute path' };
  // Encoded separators and NUL would let one segment name another directory: never valid here.
  if (/%(2f|5c|00)/i.test(raw)) return { status: 400, reason: 'encoded slash, backslash or NUL in path' };
  const segs: string[] = [];
  for (const part of raw.split('/')) {
    let seg: string;
    try {
      seg = decodeURIComponent(part);
    } catch {
      return { status: 400, reason: 'malformed percent-encoding' };
    }
    if (seg === '' || seg === '.') continue;
    if (seg === '..') return { status: 400, reason: "'..' in path" };
    // eslint-disable-next-line no-control-regex
    if (/[\\\u0000-\u001f\u007f]/.test(seg)) return { status: 400, reason: 'backslash or control character in path' };
    segs.push(seg);
  }
  return segs;
}

/** RFC 9110 §13.1.2: weak comparison for If-None-Match. */
function noneMatch(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === bare);
}

/** One `bytes=` range against `size`: [start, end] inclusive, 'unsatisfiable', or undefined (ignore the header). */
export function parseRange(header: string, size: number): [number, number] | 'unsatisfiable' | undefined {
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return undefined; // several ranges or not bytes: send it all
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    return [Math.max(0, size - n), size - 1];
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size) return 'unsatisfiable';
  if (end < start) return undefined;
  return [start, end];
}

function plain(res: ServerResponse, status: number, text: string, head: boolean, extra: Record<string, string> = {}): void {
  const body = text + '\n';
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', ...extra });
  res.end(head ? undefined : body);
}

export function createRequestHandler(opts: HttpOptions): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(req, res, opts).catch((err: unknown) => {
      opts.logger?.error('HTTP request failed', { url: req.url, error: (err as Error).message });
      if (!res.headersSent) plain(res, 500, 'internal error', req.method === 'HEAD');
      else res.destroy();
    });
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, opts: HttpOptions): Promise<void> {
  const head = req.method === 'HEAD';
  if (req.method !== 'GET' && !head) return plain(res, 405, 'method not allowed', false, { Allow: 'GET, HEAD' });
  const segs = requestSegments(req.url ?? '/');
  if (!Array.isArray(segs)) return plain(res, segs.status, segs.reason, head);

  let root: string;
  try {
    root = await realpath(opts.root);
  } catch {
    return plain(res, 503, 'no snapshot is live', head, { 'Retry-After': '5' });
  }
  let file: string;
  try {
    file = await realpath(join(root, ...segs));
  } catch {
    return plain(res, 404, 'not found', head);
  }
  // A symlink may not lead out of the snapshot (snapshots hold none; this is the backstop).
  if (file !== root && !file.startsWith(root + sep)) return plain(res, 404, 'not found', head);

  let fh;
  try {
    fh = await open(file, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  } catch {
    return plain(res, 404, 'not found', head);
  }
  let handedOver = false;
  try {
    const st = await fh.stat();
    if (st.isDirectory()) return plain(res, 403, 'directory listing is off', head);
    if (!st.isFile()) return plain(res, 404, 'not found', head);
    const rel = segs.join('/');
    const etag = `"${st.ino.toString(16)}-${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
    const mtimeSec = Math.floor(st.mtimeMs / 1000);
    const lastModified = new Date(mtimeSec * 1000).toUTCString();
    const headers: Record<string, string | number> = {
      'Content-Type': contentTypeOf(rel),
      'Cache-Control': cacheControlOf(rel),
      ETag: etag,
      'Last-Modified': lastModified,
      'Accept-Ranges': 'bytes',
    };

    // RFC 9110 §13.2.2: If-None-Match wins over If-Modified-Since.
    const inm = req.headers['if-none-match'];
    const ims = req.headers['if-modified-since'];
    let notModified = false;
    if (inm !== undefined) notModified = noneMatch(inm, etag);
    else if (ims !== undefined) {
      const t = Date.parse(ims);
      notModified = Number.isFinite(t) && mtimeSec * 1000 <= t;
    }
    if (notModified) {
      res.writeHead(304, { ETag: etag, 'Last-Modified': lastModified, 'Cache-Control': headers['Cache-Control']! });
      res.end();
      return;
    }

    let start = 0;
    let end = st.size - 1;
    let status = 200;
    const rangeHeader = req.headers.range;
    const ifRange = req.headers['if-range'] as string | undefined;
    const rangeApplies = rangeHeader !== undefined && (ifRange === undefined || ifRange === etag || (!ifRange.startsWith('"') && !ifRange.startsWith('W/') && Date.parse(ifRange) === mtimeSec * 1000));
    if (rangeApplies) {
      const r = parseRange(rangeHeader, st.size);
      if (r === 'unsatisfiable') {
        return plain(res, 416, 'range not satisfiable', head, { 'Content-Range': `bytes */${st.size}`, ETag: etag });
      }
      if (r) {
        [start, end] = r;
        status = 206;
        headers['Content-Range'] = `bytes ${start}-${end}/${st.size}`;
      }
    }
    headers['Content-Length'] = st.size === 0 ? 0 : end - start + 1;
    res.writeHead(status, headers);
    if (head || st.size === 0) {
      res.end();
      return;
    }
    const stream = fh.createReadStream({ start, end, autoClose: true });
    handedOver = true;
    stream.on('error', () => res.destroy());
    res.on('close', () => stream.destroy());
    stream.pipe(res);
  } finally {
    if (!handedOver) await fh.close();
  }
}

export interface HttpServer {
  server: Server;
  host: string;
  port: number;
  close(): Promise<void>;
}

/** Listen on host:port (port 0: any free port) and serve the live snapshot. */
export async function startHttpServer(host: string, port: number, opts: HttpOptions): Promise<HttpServer> {
  const server = createServer({ keepAlive: true }, createRequestHandler(opts));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  return {
    server,
    host,
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 2000).unref();
      }),
  };
}
