import { copyFileSync, linkSync, lstatSync, mkdirSync, readdirSync, renameSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { open, readdir, readlink, rm, constants } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fsyncDir } from '@pkgfleet/shared';

/**
 * Layout of a repository root (`repo publish --root ROOT`):
 *
 *   ROOT/current -> trees/<id>   THE SERVED TREE (web root / what `deploy` sends): a relative
 *                                symlink, switched in one rename when a publish succeeds
 *   ROOT/trees/<id>/apt/         pool/, dists/            (apt format)
 *   ROOT/trees/<id>/rpm/         <channel>/<arch>/        (yum format)
 *   ROOT/trees/<id>/gpg/         NAME.asc, NAME.gpg       (public key)
 *   ROOT/state/<id>.json         what tree <id> holds (each format's state): not served
 *   ROOT/.cache/                 metadata cache: not served
 *   ROOT/.lock                   held while a publish runs
 *
 * A tree is never modified once `current` points at it; the next publish builds a new one,
 * hard-linking the files it keeps.
 */
export const CURRENT = 'current';

/** Absolute path of the served tree (follow the symlink to get a stable snapshot of it). */
export function servedTreePath(root: string): string {
  return join(root, CURRENT);
}

/** The id of the live tree, or undefined for a root that was never published. */
export async function currentTreeId(root: string): Promise<string | undefined> {
  try {
    const target = await readlink(join(root, CURRENT));
    return target.split('/').pop();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Every file of the live tree, relative to it, sorted: what a deploy sends. Empty for a root that
 * was never published.
 */
export async function listServedFiles(root: string): Promise<string[]> {
  const id = await currentTreeId(root);
  if (!id) return [];
  const base = join(root, 'trees', id);
  const out: string[] = [];
  for (const e of await readdir(base, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out.push(relative(base, join(e.parentPath, e.name)).split(sep).join('/'));
  }
  return out.sort();
}

/** Where a format writes its part of the next tree. Paths are relative to the tree root. */
export interface TreeWriter {
  /** Absolute path of the tree being built. */
  readonly dir: string;
  /** Absolute path of the live tree, if any (read only). */
  readonly previousDir: string | undefined;
  writeFile(rel: string, data: string | Uint8Array): Promise<void>;
  /** Write a file from chunks (large files that are produced, not copied: signed rpms). */
  writeChunks(rel: string, chunks: AsyncIterable<Uint8Array>): Promise<void>;
  /**
   * Put an input file into the tree: a copy, unless the publish was told its inputs are never
   * rewritten in place (`linkInputs`, e.g. the orchestrator's incoming store, where files land by
   * rename), then a hard link (no data copied, nothing to fsync again).
   */
  addFile(rel: string, source: string): Promise<void>;
  /**
   * Move the directory `dir`, made by this publish outside the tree (copies of inputs in
   * `ctx.copies`) and holding exactly `files` (relative to it), into the tree as `rel` by renames,
   * merging it with what is there: a subdirectory the tree lacks moves in one rename. `durable`:
   * the files' data is already fsynced; like hard links of published files they are then neither
   * fsynced again nor are their directories (see StagingTree.commit).
   */
  mergeIn(rel: string, dir: string, files: readonly string[], durable: boolean): Promise<void>;
  /**
   * Hard-link `prevRel` of the live tree as `rel`; false if the live tree does not have it.
   * Synchronous: a publish carries over thousands of files, and a promise each costs more than
   * the link.
   */
  linkPrevious(rel: string, prevRel?: string): boolean;
  /** Hard-link a file already written into this tree under a second name (by-hash copies). */
  linkWithin(rel: string, existingRel: string): Promise<void>;
  has(rel: string): boolean;
  /**
   * The id of the retired tree this one is built over (see StagingTree), if any. A format that
   * knows what that tree holds (it recorded how the live tree was built from it) may then use
   * `keepRecycled` and `recycledStale` instead of a system call per kept file.
   */
  readonly recycledFrom: string | undefined;
  /** The retired tree holds, at `rel`, the live tree's own file (same inode): keep it. */
  keepRecycled(rel: string): void;
  /**
   * Under `relDir`, the retired tree holds nothing but the files kept or written by this publish
   * and `stale` (relative to `relDir`): commit removes exactly those and does not list `relDir`.
   */
  recycledStale(relDir: string, stale: readonly string[]): void;
}

/**
 * A TreeWriter over a staging directory; `commit()` makes its content durable. Small file-system
 * calls are synchronous on purpose: a publish makes thousands of them (hard links, directories)
 * one after another, and each async call costs a thread-pool round trip.
 */
export class StagingTree implements TreeWriter {
  private readonly written = new Set<string>();
  private readonly dirs = new Set<string>();
  private readonly toSync = new Set<string>();

  /**
   * `recycled`: `dir` is a retired tree renamed into place, not an empty directory. Every write
   * then replaces what is there (unlink first: the old file may be a hard link shared with the
   * live tree, never written in place), `linkPrevious` keeps a file that already is the live
   * tree's (same inode), and `commit` removes whatever this publish did not put there. Adding one
   * package to a large pool then costs what changed, not a link per pool file.
   */
  private readonly recycled: boolean;
  private readonly knownStale = new Map<string, readonly string[]>();

  constructor(readonly dir: string, readonly previousDir: string | undefined, private readonly linkInputs = false, readonly recycledFrom: string | undefined = undefined) {
    this.recycled = recycledFrom !== undefined;
  }

  keepRecycled(rel: string): void {
    if (!this.recycled) throw new Error(`keepRecycled(${rel}): the tree is not built over a retired one`);
    if (escapes(rel)) throw new Error(`tree path escapes the tree: ${rel}`);
    this.written.add(rel);
    this.keepDirsOf(rel);
  }

  recycledStale(relDir: string, stale: readonly string[]): void {
    if (!this.recycled) throw new Error(`recycledStale(${relDir}): the tree is not built over a retired one`);
    if (escapes(relDir) || stale.some(escapes)) throw new Error(`tree path escapes the tree: ${relDir}`);
    this.knownStale.set(relDir, stale);
  }

  /** The directory of the last kept file: the next one is mostly its neighbour. */
  private lastKeptDir = '';

  /** A kept file's directories stay (sweep); once one is known, so are its parents. */
  private keepDirsOf(rel: string): void {
    const slash = rel.lastIndexOf('/');
    if (slash === this.lastKeptDir.length && rel.startsWith(this.lastKeptDir)) return;
    this.lastKeptDir = rel.slice(0, Math.max(slash, 0));
    for (let d = slash; d > 0; d = rel.lastIndexOf('/', d - 1)) {
      const abs = `${this.dir}/${rel.slice(0, d)}`;
      if (this.dirs.has(abs)) break;
      this.dirs.add(abs);
    }
  }

  /** Check and record `rel` as written by this publish; its absolute path. */
  private claim(rel: string): string {
    if (escapes(rel)) throw new Error(`tree path escapes the tree: ${rel}`);
    if (this.written.has(rel)) throw new Error(`tree path written twice: ${rel}`);
    this.written.add(rel);
    return `${this.dir}/${rel}`;
  }

  private prepare(rel: string, replace = true): string {
    const abs = this.claim(rel);
    const slash = rel.lastIndexOf('/');
    if (slash > 0) this.ensureDir(rel.slice(0, slash));
    if (this.recycled && replace) unlinkQuiet(abs);
    return abs;
  }

  /** mkdir of `rel` and its parents, each at most once per publish. */
  private ensureDir(rel: string): void {
    const abs = `${this.dir}/${rel}`;
    if (this.dirs.has(abs)) return;
    const slash = rel.lastIndexOf('/');
    if (slash > 0) this.ensureDir(rel.slice(0, slash));
    else this.dirs.add(this.dir);
    try {
      mkdirSync(abs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    this.dirs.add(abs);
  }

  has(rel: string): boolean {
    return this.written.has(rel);
  }

  async writeFile(rel: string, data: string | Uint8Array): Promise<void> {
    const abs = this.prepare(rel);
    writeFileSync(abs, data, { flag: 'wx', mode: 0o644 });
    this.toSync.add(abs);
  }

  async writeChunks(rel: string, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const abs = this.prepare(rel);
    const fh = await open(abs, 'wx', 0o644);
    try {
      for await (const c of chunks) await fh.write(c);
    } finally {
      await fh.close();
    }
    this.toSync.add(abs);
  }

  async addFile(rel: string, source: string): Promise<void> {
    const abs = this.prepare(rel);
    if (this.linkInputs) {
      try {
        linkSync(source, abs);
        return;
      } catch (err) {
        // another file system: copy
        if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      }
    }
    copyFileSync(source, abs, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
    this.toSync.add(abs);
  }

  async mergeIn(rel: string, dir: string, files: readonly string[], durable: boolean): Promise<void> {
    const wanted = new Set<string>();
    for (const f of files) {
      const abs = this.claim(`${rel}/${f}`);
      wanted.add(`${dir}/${f}`);
      if (!durable) this.toSync.add(abs);
      for (let d = f.lastIndexOf('/'); d > 0; d = f.lastIndexOf('/', d - 1)) this.dirs.add(`${this.dir}/${rel}/${f.slice(0, d)}`);
    }
    const slash = rel.lastIndexOf('/');
    if (slash > 0) this.ensureDir(rel.slice(0, slash));
    this.dirs.add(`${this.dir}/${rel}`);
    const merge = (src: string, dst: string): void => {
      try {
        renameSync(src, dst); // the tree lacks it (or has it empty): the whole directory moves
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOTEMPTY' && (err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      for (const e of readdirSync(src, { withFileTypes: true })) {
        const from = `${src}/${e.name}`;
        if (e.isDirectory()) merge(from, `${dst}/${e.name}`);
        else if (!wanted.has(from)) throw new Error(`tree merge: ${from} was not announced`);
        // a file the recycled tree holds at this path is replaced (its name only: it may be a link of the live tree's)
        else renameSync(from, `${dst}/${e.name}`);
      }
    };
    merge(dir, `${this.dir}/${rel}`);
  }

  linkPrevious(rel: string, prevRel = rel): boolean {
    if (!this.previousDir) return false;
    if (escapes(prevRel)) throw new Error(`tree path escapes the tree: ${prevRel}`);
    // plain concatenation (no path.join): a publish links thousands of checked relative paths
    const src = `${this.previousDir}/${prevRel}`;
    if (this.recycled && !this.written.has(rel) && !escapes(rel)) {
      // already the live tree's file (same inode): nothing to do, not even a mkdir
      const here = lstatSync(`${this.dir}/${rel}`, { throwIfNoEntry: false });
      const there = here && lstatSync(src, { throwIfNoEntry: false });
      if (here && there && here.ino === there.ino && here.dev === there.dev) {
        this.written.add(rel);
        this.keepDirsOf(rel);
        return true;
      }
    }
    const abs = this.prepare(rel);
    try {
      // no stat first: one system call per carried-over file (a publish links them all)
      linkSync(src, abs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.written.delete(rel);
      return false;
    }
    return true;
  }

  async linkWithin(rel: string, existingRel: string): Promise<void> {
    const abs = this.prepare(rel);
    linkSync(join(this.dir, existingRel), abs);
  }

  /** Remove what a recycled tree holds that this publish did not write; returns the directories touched. */
  private sweep(): string[] {
    const touched = new Set<string>();
    const dirs: string[] = [];
    // a walk of its own rather than readdir's recursive mode, which joins and normalizes a path
    // per entry: a recycled tree holds thousands
    const walk = (dir: string, rel: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const abs = `${dir}/${e.name}`;
        const r = rel ? `${rel}/${e.name}` : e.name;
        const stale = this.knownStale.get(r);
        if (stale && e.isDirectory()) {
          // what it holds is known: remove the stale files, then their directories if emptied
          for (const f of stale) {
            const file = `${abs}/${f}`;
            unlinkQuiet(file);
            for (let d = file.lastIndexOf('/'); d > abs.length; d = file.lastIndexOf('/', d - 1)) dirs.push(file.slice(0, d));
            touched.add(file.slice(0, file.lastIndexOf('/')));
          }
          dirs.push(abs);
          continue;
        }
        if (e.isDirectory()) {
          dirs.push(abs);
          walk(abs, r);
        } else if (!this.written.has(r)) {
          unlinkSync(abs);
          touched.add(dir);
        }
      }
    };
    walk(this.dir, '');
    // deepest first, so a directory emptied by its children's removal goes too
    for (const d of [...new Set(dirs)].sort((a, b) => b.length - a.length)) {
      if (this.dirs.has(d)) continue;
      try {
        rmdirSync(d);
        touched.add(d.slice(0, d.lastIndexOf('/')));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOTEMPTY') throw err;
      }
    }
    return [...touched].filter((d) => d.length >= this.dir.length);
  }

  /**
   * Make the tree durable before it goes live: fsync every file whose data was written here, and
   * every directory that received such a file, plus the tree's root. Directories that only got
   * hard links of already-durable files (the pool, carried over) or renames of copies fsynced
   * before the rename (`mergeIn`, durable: a new cold pool) are not fsynced one by one: ext4, XFS
   * and btrfs log metadata in order, so those fsyncs, and the fsync of ROOT/trees after the stage
   * gets its final name, commit every mkdir, link and rename made before them (on a
   * thousand-package pool that saves a thousand fsyncs per publish).
   */
  async commit(): Promise<void> {
    const emptied = this.recycled ? this.sweep() : [];
    const files = [...this.toSync];
    for (let i = 0; i < files.length; i += 32) {
      await Promise.all(files.slice(i, i + 32).map(async (f) => {
        const fh = await open(f, 'r');
        try { await fh.sync(); } finally { await fh.close(); }
      }));
    }
    const dirs = new Set([this.dir, ...files.map((f) => f.slice(0, f.lastIndexOf('/'))), ...emptied]);
    await Promise.all([...dirs].map((d) => fsyncDir(d)));
  }

  async discard(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** An absolute path, or one with a `..` segment. */
function escapes(rel: string): boolean {
  return rel.startsWith('/') || (rel.includes('..') && rel.split('/').includes('..'));
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
