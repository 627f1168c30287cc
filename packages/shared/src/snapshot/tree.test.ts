import { afterEach, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scanTree, type HashCache } from './tree';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'pkgfleet-tree-'));
  dirs.push(d);
  return d;
}
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('scanTree', () => {
  it('lists every file of a deep tree sorted by path with size, SHA-256 and mode, and fills the cache', async () => {
    const root = await tmp();
    const files: Record<string, string> = {};
    for (let i = 0; i < 300; i++) files[`d${i % 7}/s${i % 13}/f${i}`] = `content ${i}`;
    files['top'] = 'top';
    for (const [p, body] of Object.entries(files)) {
      await mkdir(join(root, p, '..'), { recursive: true });
      await writeFile(join(root, p), body, { mode: 0o640 });
    }
    const cache: HashCache = new Map();
    const m = await scanTree(root, cache);
    expect(m.entries.map((e) => e.path)).toEqual(Object.keys(files).sort());
    for (const e of m.entries) expect(e).toEqual({ path: e.path, size: files[e.path]!.length, sha256: sha(files[e.path]!), mode: 0o640 });
    expect(cache.size).toBe(301);
    // A second scan with the cache gives the same manifest.
    expect(await scanTree(root, cache)).toEqual(m);
  });

  it('refuses a symlink anywhere in the tree, naming it', async () => {
    const root = await tmp();
    await mkdir(join(root, 'a/b'), { recursive: true });
    await writeFile(join(root, 'a/b/f'), 'x');
    await symlink('/etc/passwd', join(root, 'a/b/link'));
    await expect(scanTree(root)).rejects.toMatchObject({ code: 'E_SNAPSHOT_FILE_TYPE', message: expect.stringContaining('a/b/link is a symlink') });
    await rm(join(root, 'a/b/link'));
    await symlink(join(root, 'a'), join(root, 'dirlink'));
    await expect(scanTree(root)).rejects.toMatchObject({ code: 'E_SNAPSHOT_FILE_TYPE' });
  });
});
