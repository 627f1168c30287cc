import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { generateSigningKey, loadSigner, memoryLogger, parseStanzas, type Signer } from '@pkgfleet/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDeb, type DebSpec } from '../../../../test/helpers/debs';
import { createAptFormat } from './apt/format';
import type { RepoFormat } from './format';
import { publish, type PublishOptions } from './pipeline';
import { DEFAULT_SETTINGS } from './settings';
import { listServedFiles } from './tree';

const work = mkdtempSync(join(tmpdir(), 'publish-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let signer: Signer;
beforeAll(async () => {
  const k = await generateSigningKey({ name: 'Pipeline Test', email: 'p@example.com', date: new Date('2020-01-01T00:00:00Z') });
  signer = await loadSigner(k.privateKeyArmored, undefined);
});

let n = 0;
const fresh = (tag: string) => join(work, `${tag}-${n++}`);
const NOW = new Date('2026-01-02T03:04:05Z');

async function deb(dir: string, spec: DebSpec): Promise<string> {
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dir, { recursive: true });
  return writeDeb(join(dir, `${spec.name}_${spec.version.replace(/^\d+:/, '')}_${spec.arch}.deb`), spec);
}

function opts(root: string, channel: string, paths: string[], extra: Partial<PublishOptions> = {}): PublishOptions {
  return { root, channel, paths, signer, settings: DEFAULT_SETTINGS, now: NOW, logger: memoryLogger(), ...extra };
}

function packages(root: string, suite: string, arch: string): Array<Record<string, string>> {
  const text = readFileSync(join(root, 'current', 'apt', 'dists', suite, 'main', `binary-${arch}`, 'Packages'), 'utf8');
  return parseStanzas(text).map((s) => Object.fromEntries(s.map((f) => [f.name, f.value])));
}

/** Every served file with its sha256: "the tree is exactly as it was". */
async function fingerprint(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of await listServedFiles(root)) out[f] = createHash('sha256').update(readFileSync(join(root, 'current', f))).digest('hex');
  return out;
}

describe('repo publish pipeline (apt)', () => {
  it('keeps the newest N versions per package and suite in dpkg order, and drops unreferenced pool files', async () => {
    const root = fresh('retain');
    const inDir = fresh('in');
    const settings = { ...DEFAULT_SETTINGS, retention: 3 };
    // published one at a time, in an order that is not the version order
    for (const v of ['1.10', '1.2', '1.10~rc1', '1.9', '1:0.1']) {
      await publish(opts(root, 'stable', [await deb(inDir, { name: 'ret', version: v, arch: 'amd64' })], { settings }));
    }
    expect(packages(root, 'stable', 'amd64').map((p) => p.Version)).toEqual(['1.10~rc1', '1.10', '1:0.1']);
    const pool = (await listServedFiles(root)).filter((f) => f.startsWith('apt/pool/'));
    expect(pool).toEqual([
      'apt/pool/main/r/ret/ret_0.1_amd64.deb', 'apt/pool/main/r/ret/ret_1.10_amd64.deb', 'apt/pool/main/r/ret/ret_1.10~rc1_amd64.deb',
    ]);
    expect(packages(root, 'nightly', 'amd64')).toEqual([]);
  });

  it('lists Architecture: all packages in every architecture index, and shares the pool between suites', async () => {
    const root = fresh('all');
    const inDir = fresh('in');
    const all = await deb(inDir, { name: 'docs-pkg', version: '2.0', arch: 'all' });
    const arm = await deb(inDir, { name: 'tool', version: '2.0', arch: 'arm64' });
    await publish(opts(root, 'stable', [all, arm]));
    await publish(opts(root, 'nightly', [inDir]));
    for (const suite of ['stable', 'nightly']) {
      expect(packages(root, suite, 'amd64').map((p) => p.Package)).toEqual(['docs-pkg']);
      expect(packages(root, suite, 'arm64').map((p) => p.Package)).toEqual(['docs-pkg', 'tool']);
    }
    expect((await listServedFiles(root)).filter((f) => f.startsWith('apt/pool/'))).toHaveLength(2);
  });

  it('republishing one suite leaves the other suite byte for byte as it was', async () => {
    const root = fresh('other');
    const inDir = fresh('in');
    await publish(opts(root, 'nightly', [await deb(inDir, { name: 'nn', version: '1', arch: 'amd64' })]));
    const nightlyBefore = Object.entries(await fingerprint(root)).filter(([f]) => f.startsWith('apt/dists/nightly/'));
    await publish(opts(root, 'stable', [await deb(inDir, { name: 'ss', version: '1', arch: 'amd64' })], { now: new Date('2026-02-01T00:00:00Z') }));
    const nightlyAfter = Object.entries(await fingerprint(root)).filter(([f]) => f.startsWith('apt/dists/nightly/'));
    expect(nightlyAfter).toEqual(nightlyBefore);
    expect(readFileSync(join(root, 'current/apt/dists/stable/Release'), 'utf8')).toMatch(/^Date: Sun, 01 Feb 2026 00:00:00 UTC$/m);
  });

  it('gives the same bytes for the same inputs and time, signatures included', async () => {
    const inDir = fresh('in');
    const files = [await deb(inDir, { name: 'aa', version: '1', arch: 'amd64' }), await deb(inDir, { name: 'bb', version: '1:2-3', arch: 'all' })];
    const r1 = fresh('det');
    const r2 = fresh('det');
    await publish(opts(r1, 'stable', files));
    await publish(opts(r2, 'stable', [...files].reverse()));
    const [f1, f2] = [await fingerprint(r1), await fingerprint(r2)];
    expect(Object.keys(f2).filter((k) => f1[k] !== f2[k])).toEqual([]);
    expect(Object.keys(f1).length).toBeGreaterThan(20);
  });

  it('writes Valid-Until = Date + repoValidFor, Signed-By and the configured fields into Release', async () => {
    const root = fresh('valid');
    const settings = { ...DEFAULT_SETTINGS, validFor: 7 * 24 * 3600 * 1000, origin: 'Example', label: 'Example Packages' };
    await publish(opts(root, 'nightly', [await deb(fresh('in'), { name: 'vu', version: '1', arch: 'amd64' })], { settings }));
    const release = readFileSync(join(root, 'current/apt/dists/nightly/Release'), 'utf8');
    expect(release).toMatch(/^Date: Fri, 02 Jan 2026 03:04:05 UTC$/m);
    expect(release).toMatch(/^Valid-Until: Fri, 09 Jan 2026 03:04:05 UTC$/m);
    expect(release).toMatch(new RegExp(`^Signed-By: ${signer.fingerprint}$`, 'm'));
    expect(release).toMatch(/^Origin: Example\nLabel: Example Packages\nSuite: nightly\nCodename: nightly$/m);
    expect(release).toMatch(/^Acquire-By-Hash: yes$/m);
  });

  it('keeps the live tree and the one before it; older trees and their records are deleted', async () => {
    const root = fresh('keep');
    const inDir = fresh('in');
    for (let i = 1; i <= 4; i++) await publish(opts(root, 'stable', [await deb(inDir, { name: 'kept', version: String(i), arch: 'amd64' })]));
    const trees = readdirSync(join(root, 'trees'));
    expect(trees).toHaveLength(2);
    expect(trees.every((t) => /^00000[34]-/.test(t))).toBe(true);
    expect(readdirSync(join(root, 'state')).sort()).toEqual(trees.map((t) => `${t}.json`).sort());
  });

  it('refuses to run while another publish holds the root, and takes over a dead one\'s lock', async () => {
    const root = fresh('lock');
    const file = await deb(fresh('in'), { name: 'locked', version: '1', arch: 'amd64' });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, '.lock'), String(process.pid));
    await expect(publish(opts(root, 'stable', [file]))).rejects.toThrow(/another publish \(pid \d+\) is running/);
    writeFileSync(join(root, '.lock'), '999999999');
    await publish(opts(root, 'stable', [file]));
    expect(existsSync(join(root, '.lock'))).toBe(false);
  });

  it('keeps by-hash files of earlier generations so clients mid-update still find them', async () => {
    const root = fresh('byhash');
    const inDir = fresh('in');
    await publish(opts(root, 'stable', [await deb(inDir, { name: 'gg', version: '1', arch: 'amd64' })]));
    const first = readFileSync(join(root, 'current/apt/dists/stable/main/binary-amd64/Packages'));
    const firstSha = createHash('sha256').update(first).digest('hex');
    await publish(opts(root, 'stable', [await deb(inDir, { name: 'gg', version: '2', arch: 'amd64' })]));
    expect(readFileSync(join(root, `current/apt/dists/stable/main/binary-amd64/by-hash/SHA256/${firstSha}`)).equals(first)).toBe(true);
  });

  it('reads a control member that lies beyond the first bytes of the file (big control.tar)', async () => {
    const root = fresh('bigctl');
    // hex does not compress below the 16 KiB head
    const big = `X-Big: ${Array.from({ length: 2000 }, (_, i) => createHash('sha256').update(String(i)).digest('hex')).join('')}\n`;
    await publish(opts(root, 'stable', [await deb(fresh('in'), { name: 'bigctl', version: '1', arch: 'amd64', extra: big })]));
    expect(packages(root, 'stable', 'amd64')[0]!['X-Big']).toHaveLength(big.length - 'X-Big: \n'.length);
  });

  it('copies inputs into the pool, or hard-links them when told they never change in place', async () => {
    const { statSync } = await import('node:fs');
    const inDir = fresh('in');
    const file = await deb(inDir, { name: 'linked', version: '1', arch: 'amd64' });
    const copied = fresh('copy');
    const linked = fresh('link');
    await publish(opts(copied, 'stable', [file]));
    await publish(opts(linked, 'stable', [file], { linkInputs: true }));
    const pool = 'current/apt/pool/main/l/linked/linked_1_amd64.deb';
    expect(statSync(join(copied, pool)).ino).not.toBe(statSync(file).ino);
    expect(statSync(join(linked, pool)).ino).toBe(statSync(file).ino);
    expect(readFileSync(join(copied, pool)).equals(readFileSync(file))).toBe(true);
    // many inputs (read on worker threads): each pool file is the input itself, or a copy of it
    const more = [file];
    for (let i = 0; i < 5; i++) more.push(await deb(inDir, { name: `linked${i}`, version: '1', arch: 'all' }));
    const manyLinked = fresh('link');
    const manyCopied = fresh('copy');
    await publish(opts(manyLinked, 'stable', more, { linkInputs: true }));
    await publish(opts(manyCopied, 'stable', more));
    const poolOf = (root: string, i: number) => join(root, i === 0 ? pool : `current/apt/pool/main/l/linked${i - 1}/linked${i - 1}_1_all.deb`);
    expect(more.map((f, i) => statSync(poolOf(manyLinked, i)).ino === statSync(f).ino)).toEqual(more.map(() => true));
    expect(more.map((f, i) => statSync(poolOf(manyCopied, i)).ino !== statSync(f).ino && readFileSync(poolOf(manyCopied, i)).equals(readFileSync(f)))).toEqual(more.map(() => true));
  });

  it('keeps what it published when the build rewrites its output in place (dpkg-deb --build reuses the file), which a hard link would not', async () => {
    const { mkdirSync, statSync } = await import('node:fs');
    const src = fresh('src');
    mkdirSync(join(src, 'DEBIAN'), { recursive: true });
    const control = (v: string) => writeFileSync(join(src, 'DEBIAN', 'control'), `Package: rebuilt\nVersion: ${v}\nArchitecture: all\nMaintainer: T <t@example.com>\nDescription: rebuilt in place\n`);
    const out = join(fresh('target'), 'rebuilt.deb');
    mkdirSync(join(out, '..'));
    control('1');
    execFileSync('dpkg-deb', ['--build', src, out], { stdio: 'ignore' });
    const copied = fresh('copy');
    const linked = fresh('link');
    await publish(opts(copied, 'stable', [out]));
    await publish(opts(linked, 'stable', [out], { linkInputs: true }));
    const inode = statSync(out).ino;
    control('2');
    execFileSync('dpkg-deb', ['--build', src, out], { stdio: 'ignore' });
    expect(statSync(out).ino).toBe(inode); // the same file, truncated and written again
    const served = (root: string) => {
      const [p] = packages(root, 'stable', 'amd64');
      return { listed: p!.SHA256, actual: createHash('sha256').update(readFileSync(join(root, 'current', 'apt', p!.Filename!))).digest('hex') };
    };
    // the default copy still serves the bytes its index lists; the hard-linked pool file changed under its signed index
    expect(served(copied).actual).toBe(served(copied).listed);
    expect(served(linked).actual).not.toBe(served(linked).listed);
  });

  it('copies new inputs in once: an input already published, read again without a cache, keeps the published file', async () => {
    const { statSync } = await import('node:fs');
    const root = fresh('recopy');
    const inDir = fresh('in');
    const files: string[] = [];
    for (let i = 0; i < 6; i++) files.push(await deb(inDir, { name: `rc${i}`, version: '1', arch: i % 2 ? 'all' : 'amd64' }));
    await publish(opts(root, 'stable', files));
    const poolFile = (i: number) => join(root, `current/apt/pool/main/r/rc${i}/rc${i}_1_${i % 2 ? 'all' : 'amd64'}.deb`);
    const inodes = files.map((_, i) => statSync(poolFile(i)).ino);
    rmSync(join(root, '.cache'), { recursive: true });
    files.push(await deb(inDir, { name: 'rc6', version: '1', arch: 'amd64' }));
    const log = memoryLogger();
    await publish(opts(root, 'stable', files, { logger: log }));
    expect(log.lines.join('\n')).toMatch(/reading new packages.*"count":7,"cached":0/);
    expect(files.slice(0, 6).map((_, i) => statSync(poolFile(i)).ino)).toEqual(inodes);
    expect(files.map((f, i) => readFileSync(poolFile(i)).equals(readFileSync(f)))).toEqual(files.map(() => true));
    expect(checkConsistent(root)).toBe(10); // stanzas: 7 in amd64, the 3 of Architecture all in arm64
    expect(readdirSync(join(root, 'trees')).filter((t) => t.includes('.tmp'))).toEqual([]);
  });

  it('reads only new inputs; an input changed in place is read again, never served from the cache', async () => {
    const root = fresh('cache');
    const inDir = fresh('in');
    const files: string[] = [];
    for (let i = 0; i < 20; i++) files.push(await deb(inDir, { name: `pkg${i}`, version: '1', arch: 'amd64' }));
    const log1 = memoryLogger();
    await publish(opts(root, 'stable', files, { logger: log1 }));
    expect(log1.lines.join('\n')).toMatch(/reading new packages.*"count":20/);
    const extra = await deb(inDir, { name: 'pkg-new', version: '1', arch: 'amd64' });
    const log2 = memoryLogger();
    await publish(opts(root, 'stable', [...files, extra], { logger: log2 }));
    expect(log2.lines.join('\n')).toMatch(/reading new packages.*"count":1,"cached":20/);
    // same name, same size, other content: the cache must not answer for it
    await writeDeb(files[0]!, { name: 'pkg0', version: '1', arch: 'amd64', description: 'test package pkg0 CHANGED!' });
    const before = await fingerprint(root);
    await expect(publish(opts(root, 'stable', [files[0]!]))).rejects.toThrow(/pkg0_1_amd64\.deb: pkg0 1 amd64 is already published with different content/);
    expect(await fingerprint(root)).toEqual(before);
  });
});

/** Every pool file, index and by-hash copy of the live tree agrees with the Release and Packages that name it. */
function checkConsistent(root: string): number {
  const base = join(root, 'current', 'apt');
  const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
  let checked = 0;
  for (const suite of readdirSync(join(base, 'dists'))) {
    const release = readFileSync(join(base, 'dists', suite, 'Release'), 'utf8');
    const section = release.slice(release.indexOf('SHA256:\n') + 8, release.indexOf('SHA512:'));
    for (const line of section.trim().split('\n')) {
      const [hash, , path] = line.trim().split(/\s+/);
      expect(sha(join(base, 'dists', suite, path!)), path).toBe(hash);
      expect(sha(join(base, 'dists', suite, path!.replace(/[^/]+$/, `by-hash/SHA256/${hash}`))), `${path} by-hash`).toBe(hash);
      if (path!.endsWith('/Packages')) {
        // the compressed indexes hold the same text (also when stanzas were appended to them)
        const text = readFileSync(join(base, 'dists', suite, path!));
        expect(gunzipSync(readFileSync(join(base, 'dists', suite, `${path}.gz`))).equals(text), `${path}.gz`).toBe(true);
        expect(execFileSync('xz', ['-dc', join(base, 'dists', suite, `${path}.xz`)]).equals(text), `${path}.xz`).toBe(true);
        for (const p of parseStanzas(text.toString('utf8'))) {
          const f = Object.fromEntries(p.map((x) => [x.name, x.value]));
          expect(sha(join(base, f.Filename!)), f.Filename).toBe(f.SHA256);
          checked++;
        }
      }
    }
  }
  const pool = new Set((readdirSync(join(base, 'pool'), { recursive: true }) as string[]).filter((f) => f.endsWith('.deb')));
  const listed = new Set<string>();
  for (const suite of readdirSync(join(base, 'dists'))) {
    for (const arch of readdirSync(join(base, 'dists', suite, 'main'))) {
      for (const p of parseStanzas(readFileSync(join(base, 'dists', suite, 'main', arch, 'Packages'), 'utf8'))) listed.add(p.find((x) => x.name === 'Filename')!.value.replace(/^pool\//, ''));
    }
  }
  expect([...pool].sort()).toEqual([...listed].sort()); // nothing unreferenced left in the pool
  return checked;
}

describe('repo publish pipeline: trees built over retired ones', () => {
  it('stay consistent through many publishes, across suites, retention and a version rebuilt after it left the pool', async () => {
    const root = fresh('recycle');
    const settings = { ...DEFAULT_SETTINGS, retention: 2 };
    const steps: Array<[string, DebSpec]> = [
      ['stable', { name: 'rc', version: '1', arch: 'amd64' }],
      ['nightly', { name: 'rc', version: '2', arch: 'amd64' }],
      ['stable', { name: 'rc', version: '2', arch: 'amd64' }],
      ['stable', { name: 'rc', version: '3', arch: 'amd64' }], // 1 leaves stable and the pool
      ['nightly', { name: 'other', version: '1', arch: 'all' }],
      ['nightly', { name: 'rc', version: '1', arch: 'amd64', description: 'rebuilt: other bytes at a path a retired tree still holds' }],
      ['stable', { name: 'other', version: '2', arch: 'arm64' }],
    ];
    for (const [i, [suite, spec]] of steps.entries()) {
      await publish(opts(root, suite, [await deb(fresh('in'), spec)], { settings, now: new Date(NOW.getTime() + i * 1000) }));
      expect(checkConsistent(root)).toBeGreaterThan(0);
    }
    expect(packages(root, 'nightly', 'amd64').map((p) => `${p.Package} ${p.Version} ${p.Description}`).sort()).toEqual([
      'other 1 test package other',
      'rc 1 rebuilt: other bytes at a path a retired tree still holds',
      'rc 2 test package rc',
    ]);
  });
});

describe('repo publish pipeline: indexes appended to', () => {
  /** Blocks of the live amd64 Packages.xz, and the live state's record of that index. */
  const live = (root: string) => {
    const xz = join(root, 'current', 'apt', 'dists', 'stable', 'main', 'binary-amd64', 'Packages.xz');
    const blocks = execFileSync('xz', ['--robot', '-lv', xz]).toString().split('\n').filter((l) => l.startsWith('block\t')).length;
    const stateFile = join(root, 'state', readdirSync(join(root, 'state')).sort().pop()!);
    return { blocks, stateFile, index: JSON.parse(readFileSync(stateFile, 'utf8')).formats.apt.suites.stable.indexes.amd64 };
  };

  it('grow by a block per publish that adds packages; a damaged live index or the append limit writes it whole', async () => {
    const root = fresh('append');
    const add = async (name: string) => publish(opts(root, 'stable', [await deb(fresh('in'), { name, version: '1', arch: 'amd64' })]));
    await add('first');
    await add('second');
    await add('third');
    expect(live(root).blocks).toBe(3);
    expect(live(root).index.appended).toBe(2);
    expect(checkConsistent(root)).toBe(3);
    // the live Packages.xz no longer matches its record: not appended to, written whole
    writeFileSync(join(root, 'current', 'apt', 'dists', 'stable', 'main', 'binary-amd64', 'Packages.xz'), 'damaged');
    await add('fourth');
    expect([live(root).blocks, live(root).index.appended]).toEqual([1, undefined]);
    expect(checkConsistent(root)).toBe(4);
    // an index appended to as often as it may be is written whole (and in order) again
    const { stateFile } = live(root);
    const state = JSON.parse(readFileSync(stateFile, 'utf8'));
    state.formats.apt.suites.stable.indexes.amd64.appended = 32;
    writeFileSync(stateFile, JSON.stringify(state));
    await add('fifth');
    expect([live(root).blocks, live(root).index.appended]).toEqual([1, undefined]);
    // an index recorded by a version that did not know its stanza format: written whole too
    await add('sixth');
    const again = JSON.parse(readFileSync(live(root).stateFile, 'utf8'));
    delete again.formats.apt.suites.stable.indexes.amd64.format;
    writeFileSync(live(root).stateFile, JSON.stringify(again));
    await add('seventh');
    expect([live(root).blocks, live(root).index.appended, live(root).index.format]).toEqual([1, undefined, 2]);
    expect(packages(root, 'stable', 'amd64').map((p) => p.Package)).toEqual(['fifth', 'first', 'fourth', 'second', 'seventh', 'sixth', 'third']);
    expect(checkConsistent(root)).toBe(7);
  });
});

describe('repo publish pipeline: leftover trash', () => {
  it('a publish that retires no tree builds a fresh one: trash an earlier rm -rf may still be deleting is never reused', async () => {
    const root = fresh('trash');
    await publish(opts(root, 'stable', [await deb(fresh('in'), { name: 'tr', version: '1', arch: 'amd64' })], { keepTrees: 5 }));
    await publish(opts(root, 'stable', [await deb(fresh('in'), { name: 'tr', version: '2', arch: 'amd64' })], { keepTrees: 5 }));
    // what a detached rm -rf of an earlier publish leaves half done: a trash tree missing pool files
    const trees = join(root, 'trees');
    const first = readdirSync(trees).filter((d) => /^\d{6}-/.test(d)).sort()[0]!;
    const { cpSync, renameSync, statSync } = await import('node:fs');
    cpSync(join(trees, first), join(trees, `.trash-000000-leftover`), { recursive: true });
    for (const f of readdirSync(join(trees, '.trash-000000-leftover'), { recursive: true }) as string[]) {
      if (f.endsWith('.deb')) rmSync(join(trees, '.trash-000000-leftover', f));
    }
    renameSync(join(trees, '.trash-000000-leftover'), join(trees, '.trash-999999-leftover')); // newest by name
    const trashIno = statSync(join(trees, '.trash-999999-leftover')).ino;
    const r = await publish(opts(root, 'stable', [await deb(fresh('in'), { name: 'tr', version: '3', arch: 'amd64' })], { keepTrees: 5 }));
    expect(statSync(r.tree).ino).not.toBe(trashIno);
    expect(existsSync(join(trees, '.trash-999999-leftover'))).toBe(false); // deleted, not recycled
    expect(checkConsistent(root)).toBe(3);
  });
});

describe('repo publish pipeline: bad input leaves the published tree unchanged', () => {
  let root: string;
  let inDir: string;
  let before: Record<string, string>;
  beforeAll(async () => {
    root = fresh('bad');
    inDir = fresh('in');
    await publish(opts(root, 'stable', [await deb(inDir, { name: 'good', version: '1', arch: 'amd64' })]));
    before = await fingerprint(root);
  });

  const check = async (paths: string[], message: RegExp, extra: Partial<PublishOptions> = {}) => {
    await expect(publish(opts(root, 'stable', paths, extra))).rejects.toThrow(message);
    expect(await fingerprint(root)).toEqual(before);
    expect(readdirSync(join(root, 'trees')).filter((t) => t.includes('.tmp'))).toEqual([]);
  };

  it('a truncated file', async () => {
    const p = join(inDir, 'trunc.deb');
    writeFileSync(p, readFileSync(await deb(fresh('t'), { name: 'trunc', version: '1', arch: 'amd64', payload: 5000 })).subarray(0, 3000));
    await check([p], /trunc\.deb: .*(truncated|claims)/);
  });

  it('a file that is not a package', async () => {
    const p = join(inDir, 'notar.deb');
    writeFileSync(p, 'hello');
    await check([p], /notar\.deb: not an ar archive/);
  });

  it('an architecture that is not configured', async () => {
    await check([await deb(fresh('a'), { name: 'riscy', version: '1', arch: 'riscv64' })], /riscy_1_riscv64\.deb: Architecture "riscv64" is not configured/);
  });

  it('two different files claiming the same package, version and architecture', async () => {
    const a = await deb(fresh('d1'), { name: 'twin', version: '1', arch: 'amd64' });
    const b = await deb(fresh('d2'), { name: 'twin', version: '1', arch: 'amd64', description: 'other build' });
    await check([a, b], /twin_1_amd64\.deb and .*twin_1_amd64\.deb are different files that both claim twin 1 amd64/);
  });

  it('an unknown channel', async () => {
    await check([await deb(fresh('c'), { name: 'chan', version: '1', arch: 'amd64' })], /channel "testing" is not a configured suite/, { channel: 'testing' });
  });

  it('an .rpm before yum support exists, or any other file', async () => {
    const rpm = join(inDir, 'x.rpm');
    writeFileSync(rpm, 'not really');
    const apt = createAptFormat() as RepoFormat;
    const { notBuiltYet } = await import('./format');
    await check([rpm], /x\.rpm: rpm support not built yet/, { formats: [apt, notBuiltYet('yum', 'rpm', ['.rpm'], 'rpm')] });
    const txt = join(inDir, 'notes.txt');
    writeFileSync(txt, 'x');
    await check([txt], /notes\.txt: not a package this repository takes/);
  });

  it('a failure while the new tree is written (after some files are in it)', async () => {
    const failing: RepoFormat = {
      ...createAptFormat(),
      name: 'apt',
      async write(_state, ctx) {
        await ctx.tree.writeFile('apt/half-written', 'x');
        throw new Error('disk full (simulated)');
      },
    } as RepoFormat;
    await check([await deb(fresh('f'), { name: 'fail', version: '1', arch: 'amd64' })], /disk full/, { formats: [failing] });
    expect(existsSync(join(root, 'current/apt/half-written'))).toBe(false);
  });
});
