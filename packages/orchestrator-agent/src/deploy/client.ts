import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { ClientConnection, isRetryable, packTree, readCredentialFile, scanTree, UsageError, type HashCache, type Logger, type MessageOf } from '@pkgfleet/shared';

/**
 * Send a repository tree to the repo-agent named in a deploy credential: the manifest first, then
 * a tar stream of only what the repo server lacks; it verifies everything and swaps its web root.
 */
export interface DeployTreeOptions {
  credentialPath: string;
  activate: boolean;
  logger: Logger;
  connectTimeoutMs?: number;
  /** How long the repo server may take to verify and commit after the last byte. */
  verifyTimeoutMs?: number;
  /** Where to keep file hashes between deploys (default: ROOT/.cache/deploy-hashes.json when ROOT has one). */
  hashCacheFile?: string | undefined;
  attempts?: number;
  signal?: AbortSignal;
}

export interface DeployTreeResult {
  done: MessageOf<'deploy.done'>;
  tree: string;
  /** Tar bytes put on the wire by the last attempt (file content plus tar headers). */
  bytesSent: number;
  lackingFiles: number;
  url: string;
}

/** The tree a repository root serves: ROOT/current if it exists (made by `repo publish`), else ROOT itself. */
export function treeToDeploy(root: string): string {
  const current = join(root, 'current');
  try {
    return realpathSync(existsSync(current) ? current : root);
  } catch {
    throw new UsageError(`--root ${root}: no such directory`, 'pass the --root that `repo publish` wrote');
  }
}

const FRAME = 1 << 20;

/**
 * scanTree with the hashes of earlier deploys (published files never change in place). The cache
 * is saved while the deploy goes on: `saved` settles once it is written.
 */
async function scanWithCache(tree: string, cacheFile: string | undefined): Promise<{ manifest: Awaited<ReturnType<typeof scanTree>>; saved: Promise<void> }> {
  if (!cacheFile) return { manifest: await scanTree(tree), saved: Promise.resolve() };
  let cache: HashCache = new Map();
  try {
    cache = new Map(Object.entries(JSON.parse(await readFile(cacheFile, 'utf8')) as Record<string, string>));
  } catch {
    /* no cache yet, or unreadable: hash everything */
  }
  const manifest = await scanTree(tree, cache);
  // A cache: written by rename (never half-read) but not fsynced; losing it costs one re-hash.
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  const saved = (async () => {
    await writeFile(tmp, JSON.stringify(Object.fromEntries(cache)));
    await rename(tmp, cacheFile);
  })();
  saved.catch(() => {});
  return { manifest, saved };
}

async function attempt(tree: string, opts: DeployTreeOptions): Promise<DeployTreeResult> {
  const cred = readCredentialFile(opts.credentialPath);
  if (cred.role !== 'deploy') throw new UsageError(`credential ${cred.id} (${opts.credentialPath}) is a ${cred.role} credential`, 'use the deploy credential made by `repo-agent credentials issue`');
  const t0 = performance.now();
  const ms: Record<string, number> = {};
  const lap = (name: string) => (ms[name] = Math.round(performance.now() - t0));
  // Connect (TLS-PSK, WebSocket upgrade, hello/welcome) while the tree is scanned: neither needs the other.
  const connecting = ClientConnection.connect(cred, { agent: 'orchestrator-agent', logger: opts.logger, ...(opts.connectTimeoutMs ? { connectTimeoutMs: opts.connectTimeoutMs } : {}) });
  connecting.then(() => lap('connected'), () => {});
  let manifest;
  let saved: Promise<void>;
  try {
    ({ manifest, saved } = await scanWithCache(tree, opts.hashCacheFile));
    lap('scanned');
  } catch (err) {
    connecting.then((c) => c.close('deploy failed'), () => {});
    throw err;
  }
  const conn = await connecting;
  try {
    conn.send({ type: 'deploy.offer', manifest, activate: opts.activate });
    const lacking = await conn.next(['deploy.lacking'], 120_000, 'the list of lacking files');
    lap('lacking');
    const bytesLacking = lacking.entries.reduce((n, e) => n + e.size, 0);
    opts.logger.info('repo server lacks', { id: lacking.id, files: lacking.entries.length, bytes: bytesLacking, of: manifest.entries.length });
    // Coalesce tar-stream's small chunks into frames of up to 1 MiB.
    let buf: Buffer[] = [];
    let buffered = 0;
    const flush = async () => {
      if (!buffered) return;
      const frame = buf.length === 1 ? buf[0]! : Buffer.concat(buf, buffered);
      buf = [];
      buffered = 0;
      await conn.sendBinary(frame);
    };
    if (lacking.entries.length) {
      for await (const chunk of packTree(tree, lacking.entries)) {
        if (opts.signal?.aborted) throw opts.signal.reason;
        buf.push(chunk as Buffer);
        buffered += (chunk as Buffer).length;
        if (buffered >= FRAME) await flush();
      }
      await flush();
    }
    conn.send({ type: 'deploy.end' });
    lap('sent');
    const done = await conn.next(['deploy.done'], opts.verifyTimeoutMs ?? 600_000, 'the repo server to verify and activate the snapshot');
    lap('done');
    opts.logger.debug('deploy timings (ms since the attempt began)', ms);
    const bytesSent = conn.bytesSent;
    conn.close('deploy complete');
    await saved.catch((err: unknown) => opts.logger.warn(`could not save the hash cache ${opts.hashCacheFile}; the next deploy hashes the tree again`, { reason: (err as Error).message }));
    return { done, tree, bytesSent, lackingFiles: lacking.entries.length, url: cred.url };
  } catch (err) {
    conn.close('deploy failed');
    throw err;
  }
}

export async function deployTree(root: string, opts: DeployTreeOptions): Promise<DeployTreeResult> {
  const tree = treeToDeploy(root);
  if (opts.hashCacheFile === undefined && existsSync(join(root, '.cache'))) opts = { ...opts, hashCacheFile: join(root, '.cache', 'deploy-hashes.json') };
  const attempts = opts.attempts ?? 3;
  for (let i = 1; ; i++) {
    try {
      return await attempt(tree, opts);
    } catch (err) {
      if (!isRetryable(err) || i >= attempts || opts.signal?.aborted) throw err;
      opts.logger.warn(`deploy attempt ${i} failed; retrying`, { reason: (err as Error).message });
      await new Promise((r) => setTimeout(r, 1000 * 2 ** (i - 1)));
    }
  }
}
