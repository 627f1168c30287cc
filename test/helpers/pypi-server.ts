/**
 * A stateful emulator of PyPI for tests, driven by the real `twine`, on 127.0.0.1:
 *   POST /legacy/                       the legacy upload API (multipart, `:action=file_upload`,
 *                                       basic auth `__token__:<token>`), answering like Warehouse:
 *                                       identical re-upload 200, same filename with other content
 *                                       400 "File already exists", errors in the status line
 *   GET  /pypi/NAME/json                the JSON API (https://docs.pypi.org/api/json/)
 *   GET  /pypi/NAME/VERSION/json        with urls[].filename and urls[].digests.sha256
 * Faults on demand: queued 429 (with Retry-After) or 5xx answers, and error messages echoing the
 * Authorization header.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface PypiServerOptions {
  /** The API token uploads must carry as the password of user `__token__`. */
  token: string;
  echoAuthInErrors?: boolean;
}

export interface PypiFault {
  status: number;
  retryAfter?: string;
}

export interface PypiFile {
  filename: string;
  sha256: string;
  packagetype: string;
  size: number;
  content: Buffer;
}

export interface PypiServer {
  url: string;
  /** Upload endpoint, what `--repository-url` is set to. */
  uploadUrl: string;
  /** Every request in order: `POST /legacy/ 200`. */
  requests: string[];
  /** Filenames accepted as new uploads, in order. */
  uploaded: string[];
  /** Files the index holds for a project (normalized name) and version. */
  files(name: string, version: string): PypiFile[];
  inject(method: string, pathPrefix: string, faults: PypiFault[]): void;
  /** Put a file into the index directly (as if uploaded by an earlier release run). */
  seed(name: string, version: string, filename: string, content: Buffer): void;
  close(): Promise<void>;
}

/** PEP 503 name normalization. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export async function startPypiServer(opts: PypiServerOptions): Promise<PypiServer> {
  // project -> version -> files
  const projects = new Map<string, Map<string, PypiFile[]>>();
  const byFilename = new Map<string, PypiFile>();
  const requests: string[] = [];
  const uploaded: string[] = [];
  const faults: Array<{ method: string; prefix: string; fault: PypiFault }> = [];
  const expectedAuth = 'Basic ' + Buffer.from(`__token__:${opts.token}`).toString('base64');

  const add = (name: string, version: string, filename: string, content: Buffer, packagetype: string): PypiFile => {
    const file = { filename, sha256: sha256(content), packagetype, size: content.length, content };
    const versions = projects.get(normalizeName(name)) ?? new Map<string, PypiFile[]>();
    projects.set(normalizeName(name), versions);
    const list = versions.get(version) ?? [];
    versions.set(version, list);
    list.push(file);
    byFilename.set(filename, file);
    return file;
  };

  // Warehouse answers upload errors with the message as the HTTP reason phrase (twine prints it).
  const fail = (req: IncomingMessage, res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}) => {
    const auth = req.headers.authorization;
    const password = auth?.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':').slice(1).join(':') : '';
    const text = opts.echoAuthInErrors && auth ? `${message} (Authorization: ${auth}, password ${password})` : message;
    requests.push(`${req.method} ${req.url} ${status}`);
    res.writeHead(status, text.replace(/[^\x20-\x7e]/g, ' '), { 'content-type': 'text/plain', ...headers }).end(`${status} ${text}\n`);
  };
  const ok = (req: IncomingMessage, res: ServerResponse, body: unknown, type = 'application/json') => {
    requests.push(`${req.method} ${req.url} 200`);
    res.writeHead(200, { 'content-type': type }).end(typeof body === 'string' ? body : JSON.stringify(body));
  };

  const upload = async (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    if (req.headers.authorization !== expectedAuth) {
      return fail(req, res, 403, 'Invalid or non-existent authentication information. See https://pypi.org/help/#invalid-auth for more information.');
    }
    let form: FormData;
    try {
      form = await new Request('http://127.0.0.1/', { method: 'POST', body, headers: { 'content-type': req.headers['content-type'] ?? '' } }).formData();
    } catch (err) {
      return fail(req, res, 400, `Invalid multipart body: ${(err as Error).message}`);
    }
    if (form.get(':action') !== 'file_upload') return fail(req, res, 400, 'Unknown :action');
    const name = String(form.get('name') ?? '');
    const version = String(form.get('version') ?? '');
    const filetype = String(form.get('filetype') ?? '');
    const content = form.get('content');
    if (!name || !version || !(content instanceof File)) return fail(req, res, 400, "Invalid value for name, version or content. Error: This field is required.");
    const bytes = Buffer.from(await content.arrayBuffer());
    const digest = sha256(bytes);
    if (form.get('sha256_digest') !== digest) {
      return fail(req, res, 400, 'The digest supplied does not match a digest calculated from the uploaded file.');
    }
    const filename = content.name;
    const prefix = `${normalizeName(name).replace(/-/g, '_')}-${version}`;
    if (!filename.replace(/-/g, '_').toLowerCase().startsWith(prefix.replace(/-/g, '_').toLowerCase())) {
      return fail(req, res, 400, `Start filename for '${name}' with '${prefix}'.`);
    }
    const existing = byFilename.get(filename);
    if (existing) {
      // Warehouse: the same file again is a no-op success; other content under that name never is.
      if (existing.sha256 === digest) return ok(req, res, '', 'text/plain');
      return fail(req, res, 400, `File already exists ('${filename}', with sha256 hash '${existing.sha256}'). See https://pypi.org/help/#file-name-reuse for more information.`);
    }
    add(name, version, filename, bytes, filetype);
    uploaded.push(filename);
    ok(req, res, '', 'text/plain');
  };

  const json = (req: IncomingMessage, res: ServerResponse, name: string, version: string | undefined) => {
    const versions = projects.get(normalizeName(name));
    const files = version === undefined ? undefined : versions?.get(version);
    if (!versions || (version !== undefined && !files)) {
      requests.push(`${req.method} ${req.url} 404`);
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'Not Found' }));
      return;
    }
    const latest = [...versions.keys()].at(-1)!;
    const urls = (files ?? versions.get(latest) ?? []).map((f) => ({
      filename: f.filename,
      packagetype: f.packagetype,
      size: f.size,
      digests: { sha256: f.sha256, md5: createHash('md5').update(f.content).digest('hex') },
      url: `${base}/packages/${f.filename}`,
    }));
    ok(req, res, {
      info: { name, version: version ?? latest },
      urls,
      ...(version === undefined ? { releases: Object.fromEntries([...versions].map(([v, fs]) => [v, fs.map((f) => ({ filename: f.filename }))])) } : {}),
    });
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
        const reason = fault.status === 429 ? 'Too Many Requests' : 'Service Unavailable';
        return fail(req, res, fault.status, reason, fault.retryAfter ? { 'retry-after': fault.retryAfter } : {});
      }
      if (method === 'POST' && (path === '/legacy/' || path === '/legacy')) {
        upload(req, res, Buffer.concat(chunks)).catch((err: Error) => fail(req, res, 500, err.message));
        return;
      }
      const m = /^\/pypi\/([^/]+)(?:\/([^/]+))?\/json\/?$/.exec(path);
      if (m && method === 'GET') return json(req, res, decodeURIComponent(m[1]!), m[2] === undefined ? undefined : decodeURIComponent(m[2]));
      requests.push(`${method} ${req.url} 404`);
      res.writeHead(404, { 'content-type': 'text/plain' }).end('404 Not Found\n');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: base,
    uploadUrl: `${base}/legacy/`,
    requests,
    uploaded,
    files: (name, version) => projects.get(normalizeName(name))?.get(version) ?? [],
    inject(method, pathPrefix, list) {
      for (const fault of list) faults.push({ method, prefix: pathPrefix, fault });
    },
    seed(name, version, filename, content) {
      add(name, version, filename, content, filename.endsWith('.whl') ? 'bdist_wheel' : 'sdist');
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
