import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stateful emulator of the documented DigitalOcean API v2 droplet endpoints, on 127.0.0.1 over
 * HTTP, for tests of the `digitalocean` provider (the real API cannot be reached from here).
 *
 * - POST /v2/droplets → 202 {droplet}; status `new`, `active` after `activeAfterMs`.
 * - GET /v2/droplets[?tag_name=&page=&per_page=] → {droplets, links.pages, meta.total}.
 * - GET/DELETE /v2/droplets/:id → 200 / 204, 404 {id:"not_found"} for unknown ids.
 * - DELETE /v2/droplets?tag_name= → 204; the droplets leave the list after `deleteAfterMs`.
 * - 401 without the Bearer token; rate-limit headers on every answer; injected faults
 *   (429 bursts with Retry-After, 5xx, a 5xx after the droplet was made) for the next requests.
 */
export interface EmulatorDroplet {
  id: number;
  name: string;
  status: string;
  created_at: string;
  tags: string[];
  region: { slug: string };
  size_slug: string;
  image: { slug: string | number };
  vpc_uuid: string | undefined;
  user_data: string | undefined;
  monitoring: boolean;
  ssh_keys: unknown[];
  networks: { v4: { ip_address: string; netmask: string; gateway: string; type: string }[]; v6: [] };
  /** When it turns active / disappears after a delete (ms epoch); not part of the API answer. */
  activeAt: number;
  goneAt?: number;
}

export interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  authorized: boolean;
  body?: unknown;
  status: number;
}

export type Fault =
  | { kind: '429'; retryAfterSec?: number; resetInSec?: number }
  | { kind: '5xx'; status?: number }
  /** Process the POST (the droplet exists) but answer 500, as a failing front end might. */
  | { kind: 'created-then-500' };

export interface EmulatorOptions {
  token?: string;
  activeAfterMs?: number;
  deleteAfterMs?: number;
  /** Clock for created_at and transitions (tests move it to make machines old). */
  now?: () => number;
}

const TAG = /^[A-Za-z0-9:_-]{1,255}$/;
const HOSTNAME = /^[A-Za-z0-9.-]{1,253}$/;

export class DoEmulator {
  readonly token: string;
  readonly requests: LoggedRequest[] = [];
  private readonly droplets = new Map<number, EmulatorDroplet>();
  private readonly tags = new Set<string>();
  private readonly faults: { methods: string[]; fault: Fault }[] = [];
  private nextId = 300_000_001;
  private server: Server | undefined;
  url = '';
  activeAfterMs: number;
  deleteAfterMs: number;
  now: () => number;

  constructor(opts: EmulatorOptions = {}) {
    this.token = opts.token ?? 'dop_v1_emulator_' + Math.random().toString(36).slice(2);
    this.activeAfterMs = opts.activeAfterMs ?? 300;
    this.deleteAfterMs = opts.deleteAfterMs ?? 0;
    this.now = opts.now ?? Date.now;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      void this.handle(req, res).catch((err: Error) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'server_error', message: err.message }));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  /** The next `count` requests with one of `methods` get `fault` instead of an answer. */
  inject(fault: Fault, count = 1, methods = ['GET', 'POST', 'DELETE']): void {
    for (let i = 0; i < count; i++) this.faults.push({ methods, fault });
  }

  /** A droplet made outside the code under test (another team's, or an orphan of a crashed run). */
  seed(d: { name: string; tags: string[]; createdAt: Date; status?: string }): EmulatorDroplet {
    const droplet = this.make({ name: d.name, tags: d.tags, region: 'fra1', size: 's-1vcpu-1gb', image: 'debian-12-x64' });
    droplet.created_at = d.createdAt.toISOString();
    droplet.activeAt = d.status === 'new' ? Infinity : 0;
    return droplet;
  }

  /** Droplets as the API would list them now. */
  list(): EmulatorDroplet[] {
    return [...this.droplets.values()].filter((d) => !this.gone(d)).map((d) => this.view(d));
  }

  private gone(d: EmulatorDroplet): boolean {
    return d.goneAt !== undefined && this.now() >= d.goneAt;
  }

  private view(d: EmulatorDroplet): EmulatorDroplet {
    return { ...d, status: d.goneAt !== undefined ? 'archive' : this.now() >= d.activeAt ? 'active' : 'new' };
  }

  private make(b: { name: string; tags: string[]; region: string; size: string; image: string | number; vpc_uuid?: string; user_data?: string; monitoring?: boolean; ssh_keys?: unknown[] }): EmulatorDroplet {
    const id = this.nextId++;
    for (const t of b.tags) this.tags.add(t);
    const n = id % 250;
    const d: EmulatorDroplet = {
      id,
      name: b.name,
      status: 'new',
      created_at: new Date(this.now()).toISOString().replace(/\.\d+Z$/, 'Z'),
      tags: [...b.tags],
      region: { slug: b.region },
      size_slug: b.size,
      image: { slug: b.image },
      vpc_uuid: b.vpc_uuid,
      user_data: b.user_data,
      monitoring: b.monitoring ?? false,
      ssh_keys: b.ssh_keys ?? [],
      networks: {
        v4: [
          { ip_address: `10.116.0.${n + 2}`, netmask: '255.255.240.0', gateway: '10.116.0.1', type: 'private' },
          { ip_address: `203.0.113.${n + 2}`, netmask: '255.255.255.0', gateway: '203.0.113.1', type: 'public' },
        ],
        v6: [],
      },
      activeAt: this.now() + this.activeAfterMs,
    };
    this.droplets.set(id, d);
    return d;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const query = Object.fromEntries(url.searchParams);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    const authorized = req.headers.authorization === `Bearer ${this.token}`;
    const entry: LoggedRequest = { method: req.method ?? '', path: url.pathname, query, authorized, status: 0 };
    this.requests.push(entry);
    const send = (status: number, json?: unknown, headers: Record<string, string> = {}) => {
      entry.status = status;
      const resetSec = Math.ceil(this.now() / 1000) + 60;
      res.writeHead(status, { 'ratelimit-limit': '5000', 'ratelimit-remaining': '4990', 'ratelimit-reset': String(resetSec), ...(json === undefined ? {} : { 'content-type': 'application/json' }), ...headers });
      res.end(json === undefined ? undefined : JSON.stringify(json));
    };
    if (!authorized) return send(401, { id: 'unauthorized', message: 'Unable to authenticate you' });
    if (raw) {
      try {
        body = JSON.parse(raw);
        entry.body = body;
      } catch {
        return send(400, { id: 'bad_request', message: 'request body is not valid JSON' });
      }
    }
    const i = this.faults.findIndex((f) => f.methods.includes(entry.method));
    const fault = i >= 0 ? this.faults.splice(i, 1)[0]!.fault : undefined;
    if (fault?.kind === '429') {
      const headers: Record<string, string> = { 'ratelimit-remaining': '0' };
      if (fault.retryAfterSec !== undefined) headers['retry-after'] = String(fault.retryAfterSec);
      headers['ratelimit-reset'] = String(Math.ceil(this.now() / 1000) + (fault.resetInSec ?? fault.retryAfterSec ?? 1));
      return send(429, { id: 'too_many_requests', message: 'API Rate limit exceeded.' }, headers);
    }
    if (fault?.kind === '5xx') return send(fault.status ?? 503, { id: 'service_unavailable', message: 'Service is temporarily unavailable.' });

    const m = /^\/v2\/droplets(?:\/(\d+))?$/.exec(url.pathname);
    if (!m) return send(404, { id: 'not_found', message: 'The resource you were accessing could not be found.' });
    const id = m[1] ? Number(m[1]) : undefined;
    if (id !== undefined) {
      const d = this.droplets.get(id);
      if (!d || this.gone(d)) return send(404, { id: 'not_found', message: 'The resource you were accessing could not be found.' });
      if (req.method === 'GET') return send(200, { droplet: this.view(d) });
      if (req.method === 'DELETE') {
        d.goneAt ??= this.now() + this.deleteAfterMs;
        return send(204);
      }
      return send(405, { id: 'method_not_allowed', message: 'method not allowed' });
    }
    if (req.method === 'GET') return this.listDroplets(url, send);
    if (req.method === 'DELETE') {
      const tag = url.searchParams.get('tag_name');
      if (!tag) return send(422, { id: 'unprocessable_entity', message: 'tag_name is required to delete droplets in bulk' });
      if (!this.tags.has(tag)) return send(404, { id: 'not_found', message: 'The resource you were accessing could not be found.' });
      for (const d of this.droplets.values()) if (d.tags.includes(tag)) d.goneAt ??= this.now() + this.deleteAfterMs;
      return send(204);
    }
    if (req.method === 'POST') {
      const problem = validateCreate(body);
      if (problem) return send(422, { id: 'unprocessable_entity', message: problem });
      const b = body as Parameters<DoEmulator['make']>[0];
      const d = this.make({ ...b, tags: b.tags ?? [] });
      if (fault?.kind === 'created-then-500') return send(500, { id: 'server_error', message: 'Server was unable to give you a response.' });
      return send(202, { droplet: this.view(d), links: { actions: [{ id: d.id + 1, rel: 'create', href: `${this.url}/v2/actions/${d.id + 1}` }] } });
    }
    return send(405, { id: 'method_not_allowed', message: 'method not allowed' });
  }

  private listDroplets(url: URL, send: (s: number, j?: unknown) => void): void {
    const tag = url.searchParams.get('tag_name');
    const perPage = Math.min(200, Math.max(1, Number(url.searchParams.get('per_page') ?? 20) || 20));
    const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
    const all = this.list().filter((d) => !tag || d.tags.includes(tag));
    const last = Math.max(1, Math.ceil(all.length / perPage));
    const link = (p: number) => {
      const u = new URL('/v2/droplets', this.url);
      u.searchParams.set('page', String(p));
      u.searchParams.set('per_page', String(perPage));
      if (tag) u.searchParams.set('tag_name', tag);
      return u.toString();
    };
    const pages: Record<string, string> = {};
    if (page > 1) Object.assign(pages, { first: link(1), prev: link(page - 1) });
    if (page < last) Object.assign(pages, { next: link(page + 1), last: link(last) });
    send(200, { droplets: all.slice((page - 1) * perPage, page * perPage), links: { pages }, meta: { total: all.length } });
  }
}

/** The checks the API makes on POST /v2/droplets that pkgfleet could get wrong. */
function validateCreate(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return 'request body must be a JSON object';
  const b = body as Record<string, unknown>;
  if ('names' in b) return 'this emulator creates one droplet per request (use name)';
  for (const k of ['name', 'size', 'image'] as const) if (b[k] === undefined || b[k] === '') return `${k} is required`;
  if (typeof b.name !== 'string' || !HOSTNAME.test(b.name)) return 'Only valid hostname characters are allowed. (a-z, A-Z, 0-9, . and -)';
  if (b.tags !== undefined && (!Array.isArray(b.tags) || !b.tags.every((t) => typeof t === 'string' && TAG.test(t)))) {
    return 'tag names may contain letters, numbers, colons, dashes, and underscores, up to 255 characters';
  }
  if (b.user_data !== undefined && (typeof b.user_data !== 'string' || Buffer.byteLength(b.user_data) > 64 * 1024)) return 'user_data must be a string of at most 64 KiB';
  if (b.vpc_uuid !== undefined && typeof b.vpc_uuid !== 'string') return 'vpc_uuid must be a string';
  return undefined;
}
