import { constants, copyFile, link, mkdir, open, rename } from 'node:fs/promises';
import { DEB_HEAD_BYTES, DebFormatError, readDebHead, xzPreload, type DebControl, type FileHashes } from '@pkgfleet/shared';
import { identityOf, type FileIdentity } from '../cache';
import { PublishError, type FormatContext } from '../format';
import { hashFiles, type HashedFile } from '../hash';
import { poolFilename } from './plan';
import type { AptState, PoolEntry } from './state';

/** A new .deb given to `repo publish`: its control data and hashes. */
export interface DebRecord extends FileHashes {
  input: string;
  package: string;
  version: string;
  architecture: string;
  source: string;
  control: [string, string][];
  /**
   * Where ingest staged it (ctx.copies/<its pool filename>), if it did: the copy made while
   * reading it, or a hard link of it (`linkInputs`). What goes into the pool.
   */
  copy?: { path: string; durable: boolean };
}

/**
 * Cached per file identity: only the file's SHA-256, the rest comes from the live state's pool
 * entry with that hash (a file whose package left the pool is read again). The cache then stays
 * small: it is read and rewritten by every publish. Bump the kind when the shape changes.
 */
const CACHE_KIND = 'deb-v2';
type Cached = Omit<DebRecord, 'input' | 'copy'>;
interface CachedRef { sha256: string }

async function readMore(path: string, need: number): Promise<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(need);
    const { bytesRead } = await fh.read(buf, 0, need, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

async function controlOf(f: HashedFile): Promise<DebControl> {
  let head = f.head;
  for (;;) {
    const r = await readDebHead(head, f.size, f.path);
    if ('control' in r) return r.control;
    if (r.need <= head.length) throw new DebFormatError('E_DEB_AR', `${f.path}: damaged ar archive`, 'rebuild the package');
    head = await readMore(f.path, Math.min(r.need, f.size));
  }
}

/**
 * Read the new .debs (only those the cache does not know), validate them against the settings.
 * Errors name the file and the problem.
 */
export async function ingestDebs(files: readonly string[], ctx: FormatContext, previous?: AptState): Promise<DebRecord[]> {
  xzPreload(); // for Packages.xz, compiled while the inputs are read
  let published: Map<string, PoolEntry> | undefined;
  const publishedAs = (sha256: string): PoolEntry | undefined => {
    published ??= new Map(Object.values(previous?.pool ?? {}).map((e) => [e.sha256, e]));
    return published.get(sha256);
  };
  const records = new Map<string, DebRecord>();
  const ids = new Map<string, FileIdentity>();
  const toRead: string[] = [];
  for (const input of files) {
    let id: FileIdentity;
    try {
      id = await identityOf(input);
    } catch (err) {
      throw new PublishError('E_PUBLISH_INPUT', `${input}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, undefined, { cause: err });
    }
    ids.set(input, id);
    const hit = ctx.cache.get<CachedRef>(CACHE_KIND, id);
    const e = hit && publishedAs(hit.sha256);
    if (e && e.size === id.size) {
      const { filename: _f, ...rec } = e;
      records.set(input, { ...rec, input });
    } else {
      toRead.push(input);
    }
  }
  // each new input is staged at its pool path inside ctx.copies while the other files are still
  // being read, on the thread pool (those mkdirs wait on the file system's journal when it is
  // busy), so that the write moves whole directories into the tree: the copy made while hashing
  // is renamed there, or with `linkInputs` the input itself is hard-linked there
  const dirs = new Map<string, Promise<unknown>>();
  const arranged: Promise<unknown>[] = [];
  const stage = (from: string, filename: string, copied: boolean, durable: boolean): { path: string; durable: boolean } => {
    const copy = { path: `${ctx.copies}/${filename}`, durable };
    const dir = copy.path.slice(0, copy.path.lastIndexOf('/'));
    let made = dirs.get(dir);
    if (!made) dirs.set(dir, (made = mkdir(dir, { recursive: true })));
    const done = made.then(async () => {
      if (copied) return rename(from, copy.path);
      try {
        await link(from, copy.path);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // EEXIST: another input with this pool path; the plan refuses it unless it is the same file
        if (code === 'EEXIST') return;
        if (code !== 'EXDEV') throw err;
        await copyFile(from, copy.path, constants.COPYFILE_EXCL); // another file system
        copy.durable = false;
      }
    });
    done.catch(() => {}); // awaited below
    arranged.push(done);
    return copy;
  };
  if (toRead.length) ctx.logger.debug('reading new packages', { count: toRead.length, cached: files.length - toRead.length });
  await hashFiles(toRead, DEB_HEAD_BYTES, async (f) => {
    const c = await controlOf(f);
    const rec: Cached = {
      package: c.package,
      version: c.version,
      architecture: c.architecture,
      source: c.source,
      control: c.fields.map((x) => [x.name, x.value]),
      size: f.size, md5: f.md5, sha1: f.sha1, sha256: f.sha256, sha512: f.sha512,
    };
    const filename = poolFilename(ctx.settings.component, rec);
    const copy = f.copy !== undefined ? stage(f.copy, filename, true, f.durable === true)
      : ctx.copies !== undefined && ctx.linkInputs ? stage(f.path, filename, false, true)
        : undefined;
    records.set(f.path, { ...rec, input: f.path, ...(copy && { copy }) });
    const id = ids.get(f.path)!;
    // a file that changed while it was read must not be cached under its old identity
    if (id.size === f.size) ctx.cache.set<CachedRef>(CACHE_KIND, id, { sha256: f.sha256 });
  }, { copyDir: ctx.linkInputs ? undefined : ctx.copies }).catch((err: unknown) => {
    if (err instanceof PublishError || err instanceof DebFormatError) throw err;
    throw new PublishError('E_PUBLISH_INPUT', (err as Error).message, undefined, { cause: err });
  }).finally(() => Promise.allSettled(arranged));
  await Promise.all(arranged);
  const allowed = new Set([...ctx.settings.architectures, 'all']);
  const out = files.map((f) => records.get(f)!);
  for (const r of out) {
    if (!allowed.has(r.architecture)) {
      throw new PublishError('E_PUBLISH_ARCH', `${r.input}: Architecture "${r.architecture}" is not configured (repoArchitectures: ${ctx.settings.architectures.join(', ')})`, 'add it to repoArchitectures in the config, or leave the package out');
    }
  }
  return out;
}
