import { open, rename, mkdir, unlink, symlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, basename, join } from 'node:path';

/** A temporary name beside `path`, on the same file system so that rename is atomic. */
export function tempNameFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** fsync a directory so that a rename inside it survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Stage, fsync, rename: the one way a file that another process may read appears.
 * Readers see either the old content or the new one, never a part.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  opts: { mode?: number } = {},
): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempNameFor(path);
  const fh = await open(tmp, 'wx', opts.mode ?? 0o644);
  try {
    await fh.writeFile(data);
    if (opts.mode !== undefined) await fh.chmod(opts.mode);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fh.close();
  await commitRename(tmp, path);
}

/** Rename a staged file (already fsynced) over its final name and fsync the directory. */
export async function commitRename(tmp: string, path: string): Promise<void> {
  await rename(tmp, path);
  await fsyncDir(dirname(path));
}

/** Point `link` at `target` in one step: a new symlink renamed over the old one. */
export async function swapSymlink(target: string, link: string): Promise<void> {
  const tmp = tempNameFor(link);
  await symlink(target, tmp);
  await commitRename(tmp, link);
}
