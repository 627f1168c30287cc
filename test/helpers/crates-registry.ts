/**
 * A stateful emulator of a crates.io-style registry for tests, driven by the real `cargo`:
 * a git index (file:// URL, committed to like crates.io's index) whose config.json points `dl`
 * and `api` at an HTTP server on 127.0.0.1 implementing the publish API
 * (https://doc.rust-lang.org/cargo/reference/registry-web-api.html):
 *   PUT /api/v1/crates/new                 publish (u32le json len, json, u32le crate len, .crate)
 *   GET /api/v1/crates/NAME/VERSION         200 {"version":{…}} or 404 {"errors":[{"detail":…}]}
 *   GET /api/v1/crates/NAME/VERSION/download  the .crate
 * Faults on demand: an index delay (a publish becomes visible N ms after the API accepted it, as
 * when crates.io's index lags its database), queued 429/5xx answers, and error messages that echo
 * the Authorization header (to prove the caller masks it).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CratesRegistryOptions {
  /** Directory the index repository is created in (the test's temp dir). */
  dir: string;
  /** The token publish requests must carry in `Authorization`. */
  token: string;
  /** Accepted versions appear in the index this many ms later (default 0). */
  indexDelayMs?: number;
  /** Put the Authorization header into error details, like a careless registry would. */
  echoAuthInErrors?: boolean;
}

export interface InjectedFault {
  status: number;
  retryAfter?: string;
  detail?: string;
}

export interface CratesRegistry {
  /** http://127.0.0.1:PORT — the `api` of config.json. */
  apiUrl: string;
  /** file:///…/index — what `[registries.NAME] index` is set to. */
  indexUrl: string;
  indexDir: string;
  /** Every request, in order: `PUT /api/v1/crates/new 200`. */
  requests: string[];
  /** Versions accepted by the publish API, in order: `tools@1.2.3`. */
  published: string[];
  /** Answer the next matching requests with these faults, one each, before serving normally. */
  inject(method: string, pathPrefix: string, faults: InjectedFault[]): void;
  /**
   * Accept a version as if an earlier run had published it (the API knows it at once; the index
   * after the configured delay). `crate` is the .crate file (`cargo package` makes one).
   */
  preload(meta: { name: string; vers: string }, crate: Buffer): void;
  /** Index lines of a crate as committed (for assertions). */
  indexLines(name: string): Promise<unknown[]>;
  close(): Promise<void>;
}

interface PublishDep {
  name: string;
  version_req: string;
  features: string[];
  optional: boolean;
  default_features: boolean;
  target: string | null;
  kind: string;
  registry?: string | null;
  explicit_name_in_toml?: string | null;
}

interface PublishMeta {
  name: string;
  vers: string;
  deps: PublishDep[];
  features: Record<string, string[]>;
  links?: string | null;
  rust_version?: string | null;
}

/** crates.io index layout: 1/a, 2/ab, 3/a/abc, ab/cd/abcd… (lowercased). */
export function indexPath(name: string): string {
  const n = name.toLowerCase();
  if (n.length <= 2) return join(String(n.length), n);
  if (n.length === 3) return join('3', n[0]!, n);
  return join(n.slice(0, 2), n.slice(2, 4), n);
}

/** The publish body cargo sends: u32 LE JSON length, JSON, u32 LE crate length, .crate bytes. */
export function parsePublishBody(body: Buffer): { meta: PublishMeta; crate: Buffer } {
  if (body.length < 4) throw new Error('body too short');
  const jsonLen = body.readUInt32LE(0);
  if (4 + jsonLen + 4 > body.length) throw new Error('json length past the end of the body');
  const meta = JSON.parse(body.subarray(4, 4 + jsonLen).toString('utf8')) as PublishMeta;
  const crateLen = body.readUInt32LE(4 + jsonLen);
  const start = 8 + jsonLen;
  if (start + crateLen !== body.length) throw new Error('crate length does not match the body');
  return { meta, crate: body.subarray(start, start + crateLen) };
}

export async function startCratesRegistry(opts: CratesRegistryOptions): Promise<CratesRegistry> {
  const indexDir = join(opts.dir, 'crates-index');
  await mkdir(indexDir, { recursive: true });
  const git = (...args: string[]) =>
    run('git', ['-c', 'user.name=registry', '-c', 'user.email=registry@127.0.0.1', '-c', 'commit.gpgsign=false', ...args], { cwd: indexDir });
  await git('init', '-q', '-b', 'master');

  // versions known to the API (the database), and what the index holds
  const versions = new Map<string, Map<string, { cksum: string; crate: Buffer; line: Record<string, unknown> }>>();
  const requests: string[] = [];
  const published: string[] = [];
  const faults: Array<{ method: string; prefix: string; fault: InjectedFault }> = [];
  const timers = new Set<NodeJS.Timeout>();
  let indexQueue: Promise<unknown> = Promise.resolve();

  const reply = (req: IncomingMessage, res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    requests.push(`${req.method} ${req.url} ${status}`);
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  };
  const fail = (req: IncomingMessage, res: ServerResponse, status: number, detail: string, headers: Record<string, string> = {}) => {
    const auth = req.headers.authorization;
    const text = opts.echoAuthInErrors && auth ? `${detail} (request had Authorization: ${auth})` : detail;
    reply(req, res, status, { errors: [{ detail: text }] }, headers);
  };

  const addToIndex = (name: string, line: Record<string, unknown>) => {
    indexQueue = indexQueue.then(async () => {
      const rel = indexPath(name);
      await mkdir(join(indexDir, rel, '..'), { recursive: true });
      const prior = await readFile(join(indexDir, rel), 'utf8').catch(() => '');
      await writeFile(join(indexDir, rel), prior + JSON.stringify(line) + '\n');
      await git('add', rel);
      await git('commit', '-q', '-m', `Update crate \`${name}#${String(line.vers)}\``);
    });
    return indexQueue;
  };

  /** The publish API's checks and effects, shared by PUT /api/v1/crates/new and preload(). */
  const accept = (meta: PublishMeta, crate: Buffer): { status: number; detail?: string; committed: Promise<unknown> } => {
    const key = meta.name.toLowerCase();
    const known = versions.get(key);
    if (known?.has(meta.vers)) return { status: 400, detail: `crate version \`${meta.vers}\` is already uploaded`, committed: Promise.resolve() };
    for (const d of meta.deps) {
      // A dependency on this registry must exist in it (registry null = the registry being published to).
      if (!d.registry && !versions.has(d.name.toLowerCase())) return { status: 400, detail: `no known crate named \`${d.name}\``, committed: Promise.resolve() };
    }
    const cksum = createHash('sha256').update(crate).digest('hex');
    // Index entry as crates.io writes it: `req` for version_req, `package` for a renamed dependency.
    const line = {
      name: meta.name,
      vers: meta.vers,
      deps: meta.deps.map((d) => ({
        name: d.explicit_name_in_toml ?? d.name,
        req: d.version_req,
        features: d.features,
        optional: d.optional,
        default_features: d.default_features,
        target: d.target,
        kind: d.kind,
        ...(d.registry ? { registry: d.registry } : {}),
        ...(d.explicit_name_in_toml ? { package: d.name } : {}),
      })),
      cksum,
      features: meta.features,
      yanked: false,
      links: meta.links ?? null,
      ...(meta.rust_version ? { rust_version: meta.rust_version } : {}),
    };
    if (!known) versions.set(key, new Map());
    versions.get(key)!.set(meta.vers, { cksum, crate: Buffer.from(crate), line });
    published.push(`${meta.name}@${meta.vers}`);
    const delay = opts.indexDelayMs ?? 0;
    if (delay <= 0) return { status: 200, committed: addToIndex(meta.name, line) };
    // The database has it now, the index only later: the API answers before the index shows it.
    const t = setTimeout(() => {
      timers.delete(t);
      void addToIndex(meta.name, line);
    }, delay);
    timers.add(t);
    return { status: 200, committed: Promise.resolve() };
  };

  const publish = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    if (req.headers.authorization !== opts.token) return fail(req, res, 403, 'authentication failed: the given token is not valid');
    let parsed: { meta: PublishMeta; crate: Buffer };
    try {
      parsed = parsePublishBody(body);
    } catch (err) {
      return fail(req, res, 400, `invalid upload request: ${(err as Error).message}`);
    }
    const r = accept(parsed.meta, parsed.crate);
    if (r.status !== 200) return fail(req, res, r.status, r.detail ?? 'rejected');
    // Without a delay the index has the version before the API answers, like a quiet crates.io.
    void r.committed.then(() => reply(req, res, 200, { warnings: { invalid_categories: [], invalid_badges: [], other: [] } }));
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const method = req.method ?? 'GET';
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const fi = faults.findIndex((f) => f.method === method && path.startsWith(f.prefix));
      if (fi >= 0) {
        const { fault } = faults.splice(fi, 1)[0]!;
        return fail(req, res, fault.status, fault.detail ?? `injected ${fault.status}`, fault.retryAfter ? { 'retry-after': fault.retryAfter } : {});
      }
      if (method === 'PUT' && path === '/api/v1/crates/new') return publish(req, res, Buffer.concat(chunks));
      const m = /^\/api\/v1\/crates\/([^/]+)\/([^/]+)(\/download)?$/.exec(path);
      if (m && method === 'GET') {
        const [, name, vers, download] = m as unknown as [string, string, string, string | undefined];
        const v = versions.get(decodeURIComponent(name).toLowerCase())?.get(decodeURIComponent(vers));
        if (!versions.has(name.toLowerCase())) return fail(req, res, 404, `crate \`${name}\` does not exist`);
        if (!v) return fail(req, res, 404, `crate \`${name}\` does not have a version \`${vers}\``);
        if (download) {
          requests.push(`${method} ${path} 200`);
          res.writeHead(200, { 'content-type': 'application/gzip' }).end(v.crate);
          return;
        }
        return reply(req, res, 200, {
          version: { crate: name, num: vers, dl_path: `/api/v1/crates/${name}/${vers}/download`, checksum: v.cksum, yanked: false },
        });
      }
      fail(req, res, 404, 'Not Found');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // cargo reads config.json from the index: `dl` without markers gets /{crate}/{version}/download appended.
  await writeFile(join(indexDir, 'config.json'), JSON.stringify({ dl: `${apiUrl}/api/v1/crates`, api: apiUrl }, null, 2) + '\n');
  await git('add', 'config.json');
  await git('commit', '-q', '-m', 'registry config');

  return {
    apiUrl,
    indexUrl: pathToFileURL(indexDir).href,
    indexDir,
    requests,
    published,
    inject(method, pathPrefix, list) {
      for (const fault of list) faults.push({ method, prefix: pathPrefix, fault });
    },
    preload(meta, crate) {
      const r = accept({ deps: [], features: {}, ...meta }, crate);
      if (r.status !== 200) throw new Error(`preload ${meta.name}@${meta.vers}: ${r.detail}`);
    },
    async indexLines(name) {
      const text = await readFile(join(indexDir, indexPath(name)), 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as unknown);
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      await indexQueue.catch(() => undefined);
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
