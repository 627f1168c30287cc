import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hashFiles, prestartHashWorkers, releaseHashWorkers, spareHashWorkers, workersFor, type HashedFile } from './hash';

const work = mkdtempSync(join(tmpdir(), 'hash-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Files of different sizes (empty, under a chunk, several chunks), each with its own bytes. */
function inputs(n: number): string[] {
  const dir = join(work, `in-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir);
  return Array.from({ length: n }, (_, i) => {
    const f = join(dir, `f${i}`);
    writeFileSync(f, Buffer.alloc([0, 1000, (1 << 20) * 2 + 7][i % 3]!, i + 1));
    return f;
  });
}

const digest = (algo: string, f: string) => createHash(algo).update(readFileSync(f)).digest('hex');

async function hashAll(paths: string[], copyDir?: string): Promise<Map<string, HashedFile>> {
  const out = new Map<string, HashedFile>();
  await hashFiles(paths, 64, (f) => void out.set(f.path, f), { copyDir });
  return out;
}

describe('hashing many files on worker threads', () => {
  it('uses workers started ahead of the job: every digest, head and copy is the file', async () => {
    const paths = inputs(9);
    expect(workersFor(paths.length)).toBeGreaterThan(1);
    prestartHashWorkers(2);
    await new Promise((r) => setTimeout(r, 200));
    expect(spareHashWorkers()).toBe(2); // started, and running (one that failed would be no spare)
    const copies = join(work, 'copies');
    mkdirSync(copies);
    const got = await hashAll(paths, copies);
    expect(spareHashWorkers()).toBe(0);
    expect([...got.keys()].sort()).toEqual([...paths].sort());
    for (const [i, p] of paths.entries()) {
      const f = got.get(p)!;
      expect({ size: f.size, md5: f.md5, sha1: f.sha1, sha256: f.sha256, sha512: f.sha512 }).toEqual({
        size: readFileSync(p).length, md5: digest('md5', p), sha1: digest('sha1', p), sha256: digest('sha256', p), sha512: digest('sha512', p),
      });
      expect(Buffer.from(f.head).equals(readFileSync(p).subarray(0, 64))).toBe(true);
      expect(f.durable).toBe(true);
      expect(readFileSync(f.copy!).equals(readFileSync(p))).toBe(true);
      expect(f.copy).toBe(join(copies, String(i)));
    }
    // the spares were taken: the next job starts its own workers and gives the same answers
    const again = await hashAll(paths);
    expect([...again.values()].map((f) => f.sha256).sort()).toEqual([...got.values()].map((f) => f.sha256).sort());
  });

  it('reports a file that cannot be read, naming it', async () => {
    const paths = inputs(8);
    prestartHashWorkers(2);
    await expect(hashAll([...paths, join(work, 'missing.deb')])).rejects.toThrow(/missing\.deb.*ENOENT/);
    await releaseHashWorkers();
  });

  it('idle prestarted workers neither keep the process alive nor outlive releaseHashWorkers', () => {
    const script = join(work, 'idle.mjs');
    writeFileSync(script, `import { prestartHashWorkers, releaseHashWorkers, spareHashWorkers } from ${JSON.stringify(join(import.meta.dirname, 'hash.ts'))};
prestartHashWorkers(2);
await new Promise((r) => setTimeout(r, 300)); // they have started (a worker that failed is no spare)
console.log(spareHashWorkers());
if (process.argv[2] === 'release') {
  await releaseHashWorkers();
  console.log(spareHashWorkers());
}`);
    // each exits by itself: a worker keeping it alive would hang it until the timeout kills it
    expect(execFileSync(process.execPath, [script, 'leave'], { timeout: 20_000 }).toString()).toBe('2\n');
    expect(execFileSync(process.execPath, [script, 'release'], { timeout: 20_000 }).toString()).toBe('2\n0\n');
  });
});
