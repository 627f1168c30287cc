import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { lstat, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { readPublicKey, scanTree, packTree, type Manifest } from '@pkgfleet/shared';
import { makeTestKey, writeSignedTree, type TestKey } from '../../../../test/helpers/signed-repo';
import { DirStore } from '../store/dir-store';
import { deployFromDirectory } from './local';
import { beginDeploy, receiveSnapshot, type DeployOptions } from './receive';

let key: TestKey;
let other: TestKey;
let opts: DeployOptions;
const dirs: string[] = [];

beforeAll(async () => {
  key = await makeTestKey('trusted');
  other = await makeTestKey('someone else');
  opts = { trustedKey: await readPublicKey(key.publicKeyArmored), graceMs: 3600_000, lockTimeoutMs: 10_000 };
});

afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'pkgfleet-receive-'));
  dirs.push(d);
  return d;
}

async function tree(opts2: Parameters<typeof writeSignedTree>[2] = {}, signer = key.signer): Promise<string> {
  const d = await tmp();
  await writeSignedTree(d, signer, opts2);
  return d;
}

/** A tar stream of hand-made entries. */
function tarOf(entries: { header: Partial<tar.Header> & { name: string }; body?: Buffer }[]): Readable {
  const pack = tar.pack();
  for (const { header, body } of entries) pack.entry(header, body ?? Buffer.alloc(0));
  pack.finalize();
  return Readable.from(pack as unknown as AsyncIterable<Buffer>);
}

async function expectUntouched(store: DirStore, live: string | undefined, count: number): Promise<void> {
  expect(await store.live()).toBe(live);
  expect((await store.list()).length).toBe(count);
  expect(await readdir(store.stagingDir)).toEqual([]);
}

describe('deploy', () => {
  it('a second deploy of the same tree receives no content; one changed package of 1000 receives only it and the metadata that changed', async () => {
    const store = new DirStore(await tmp());
    const src = await tree({ packages: 20 });
    const first = await deployFromDirectory(store, src, opts);
    const manifest = await scanTree(src);
    expect(first.counter.filesReceived).toBe(new Set(manifest.entries.map((e) => e.sha256)).size);
    expect(await store.live()).toBe(first.id);

    const second = await deployFromDirectory(store, src, opts);
    expect(second.counter.bytesReceived).toBe(0);
    expect(second.counter.filesReceived).toBe(0);
    expect(second.counter.filesLinked).toBe(manifest.entries.length);
    expect(await store.live()).toBe(second.id);

    // One package of a 1000-package tree changed: what is lacking is that package (.deb and .rpm)
    // and the metadata that lists it, nothing else.
    const big = await tree({ packages: 1000 });
    const base = await deployFromDirectory(store, big, opts);
    const changed = await tree({ packages: 1000, changed: [7] });
    const changedManifest = await scanTree(changed);
    const pending = await beginDeploy(store, changedManifest, opts);
    const lackingPaths = pending.lacking.map((e) => e.path);
    expect(lackingPaths).toContain('apt/pool/main/p/pkg7/pkg7_1.1_amd64.deb');
    expect(lackingPaths).toContain('rpm/stable/x86_64/Packages/pkg7-1.1-1.x86_64.rpm');
    const packagesSent = lackingPaths.filter((p) => p.endsWith('.deb') || p.endsWith('.rpm'));
    expect(packagesSent.length).toBe(2);
    for (const p of lackingPaths) expect(p).toMatch(/pkg7[-_]1\.1|\/dists\/|\/repodata\//);
    const third = await pending.receive(packTree(changed, pending.lacking));
    expect(third.counter.filesReceived).toBe(pending.lacking.length);
    expect(third.counter.bytesReceived).toBe(pending.lacking.reduce((n, e) => n + e.size, 0));
    expect(third.counter.filesLinked + third.counter.filesReceived).toBe(changedManifest.entries.length);
    const metadata = new Map(changedManifest.entries.filter((e) => /\/(dists|repodata)\//.test(e.path)).map((e) => [e.sha256, e.size]));
    expect(third.counter.bytesReceived).toBeLessThanOrEqual(2 * 2048 + [...metadata.values()].reduce((n, x) => n + x, 0));
    // Unchanged packages are the same inodes as in the snapshot before: hard links, not copies.
    const unchangedDeb = 'apt/pool/main/p/pkg3/pkg3_1.0_amd64.deb';
    expect((await stat(join(store.snapshotsDir, third.id, unchangedDeb))).ino).toBe((await stat(join(store.snapshotsDir, base.id, unchangedDeb))).ino);
  });

  it('keeps by-hash and hash-named repodata of the previous snapshot for the grace period, then drops them', async () => {
    const store = new DirStore(await tmp());
    const a = await tree({ variant: 'a' });
    const b = await tree({ variant: 'b' });
    const t0 = new Date('2026-03-01T00:00:00Z');
    const first = await deployFromDirectory(store, a, { ...opts, now: () => t0 });
    const oldHashNamed = (await scanTree(a)).entries.filter((e) => /by-hash|repodata\/[0-9a-f]{64}-/.test(e.path));
    expect(oldHashNamed.length).toBeGreaterThan(0);
    const second = await deployFromDirectory(store, b, { ...opts, now: () => new Date(t0.getTime() + 60_000) });
    for (const e of oldHashNamed) {
      expect((await stat(join(store.snapshotsDir, second.id, e.path))).ino).toBe((await stat(join(store.snapshotsDir, first.id, e.path))).ino);
    }
    // Still carried by the next deploy within the hour, gone once the hour is over.
    const third = await deployFromDirectory(store, b, { ...opts, now: () => new Date(t0.getTime() + 120_000) });
    await expect(lstat(join(store.snapshotsDir, third.id, oldHashNamed[0]!.path))).resolves.toBeTruthy();
    const fourth = await deployFromDirectory(store, b, { ...opts, now: () => new Date(t0.getTime() + 3_700_000) });
    await expect(lstat(join(store.snapshotsDir, fourth.id, oldHashNamed[0]!.path))).rejects.toThrow(/ENOENT/);
    // A zero grace period carries nothing.
    const fifth = await deployFromDirectory(store, a, { ...opts, graceMs: 0 });
    const bHashNamed = (await scanTree(b)).entries.filter((e) => /by-hash/.test(e.path));
    await expect(lstat(join(store.snapshotsDir, fifth.id, bHashNamed[0]!.path))).rejects.toThrow(/ENOENT/);
  });

  it('refuses a file whose content does not match the manifest, and never activates it', async () => {
    const store = new DirStore(await tmp());
    const good = await deployFromDirectory(store, await tree(), opts);
    const src = await tree({ variant: 'x' });
    const manifest = await scanTree(src);
    const victim = manifest.entries.find((e) => e.path.endsWith('.deb'))!;
    await writeFile(join(src, victim.path), Buffer.alloc(victim.size, 1));
    const pending = await beginDeploy(store, manifest, opts);
    await expect(pending.receive(packTree(src, pending.lacking))).rejects.toMatchObject({ code: 'E_SNAPSHOT_HASH' });
    await expectUntouched(store, good.id, 1);
  });

  it('refuses a snapshot signed by another key', async () => {
    const store = new DirStore(await tmp());
    await expect(deployFromDirectory(store, await tree({}, other.signer), opts)).rejects.toMatchObject({ code: 'E_PGP_BAD_SIGNATURE' });
    await expectUntouched(store, undefined, 0);
    const good = await deployFromDirectory(store, await tree(), opts);
    await expect(deployFromDirectory(store, await tree({ variant: 'z' }, other.signer), opts)).rejects.toThrow(/signature does not verify/);
    await expectUntouched(store, good.id, 1);
  });

  it('refuses unsigned metadata and indexes that do not match the signed Release', async () => {
    const store = new DirStore(await tmp());
    const unsigned = await tree();
    await rm(join(unsigned, 'rpm/stable/x86_64/repodata/repomd.xml.asc'));
    await expect(deployFromDirectory(store, unsigned, opts)).rejects.toMatchObject({ code: 'E_SNAPSHOT_UNSIGNED' });
    const tampered = await tree();
    await writeFile(join(tampered, 'apt/dists/stable/main/binary-amd64/Packages'), 'Package: evil\n');
    await expect(deployFromDirectory(store, tampered, opts)).rejects.toMatchObject({ code: 'E_SNAPSHOT_INDEX' });
    await expectUntouched(store, undefined, 0);
  });

  describe('refuses tar entries', () => {
    const body = Buffer.from('hello\n');
    const sha = '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03';
    const manifest: Manifest = { entries: [{ path: 'apt/x', size: body.length, sha256: sha, mode: 0o644 }] };
    const cases: [string, Partial<tar.Header> & { name: string }, RegExp][] = [
      ['with ..', { name: '../escape', size: body.length, type: 'file' }, /'\.\.' in path/],
      ['with .. inside', { name: 'apt/../../escape', size: body.length, type: 'file' }, /'\.\.' in path/],
      ['with an absolute path', { name: '/etc/passwd', size: body.length, type: 'file' }, /absolute path/],
      ['that are symlinks', { name: 'apt/x', type: 'symlink', linkname: '/etc/passwd' }, /type symlink/],
      ['that are hard links', { name: 'apt/x', type: 'link', linkname: 'apt/y' }, /type link/],
      ['that are character devices', { name: 'apt/x', type: 'character-device', devmajor: 1, devminor: 3 }, /type character-device/],
      ['that are block devices', { name: 'apt/x', type: 'block-device', devmajor: 8, devminor: 0 }, /type block-device/],
      ['not in the manifest', { name: 'apt/other', size: body.length, type: 'file' }, /not in the manifest/],
    ];
    for (const [label, header, message] of cases) {
      it(label, async () => {
        const root = await tmp();
        const store = new DirStore(root);
        const hasBody = header.type === 'file';
        await expect(receiveSnapshot(store, manifest, tarOf([{ header, ...(hasBody ? { body } : {}) }]), opts)).rejects.toThrow(message);
        await expectUntouched(store, undefined, 0);
        // Nothing was written outside the store either.
        await expect(lstat(join(root, '..', 'escape'))).rejects.toThrow(/ENOENT/);
      });
    }
  });

  it('refuses a stream that leaves out lacking content', async () => {
    const store = new DirStore(await tmp());
    const src = await tree();
    const manifest = await scanTree(src);
    const pending = await beginDeploy(store, manifest, opts);
    await expect(pending.receive(packTree(src, pending.lacking.slice(1)))).rejects.toMatchObject({ code: 'E_DEPLOY_MISSING' });
    await expectUntouched(store, undefined, 0);
  });

  it('serializes concurrent deploys and gc-style removal under one lock', async () => {
    const store = new DirStore(await tmp());
    const trees = await Promise.all([tree({ variant: '1' }), tree({ variant: '2' }), tree({ variant: '3' })]);
    const results = await Promise.all(trees.map((t) => deployFromDirectory(store, t, opts)));
    const list = await store.list();
    expect(list.map((r) => r.id).sort()).toEqual(results.map((r) => r.id).sort());
    expect(results.map((r) => r.id)).toContain(await store.live());
    // A deploy holds the lock from the lacking list to the swap: a remover waits for it.
    const pending = await beginDeploy(store, await scanTree(trees[0]!), opts);
    expect(pending.lacking).toEqual([]);
    const lock = store.lock('gc', { timeoutMs: 200 });
    await expect(lock).rejects.toMatchObject({ code: 'E_LOCK_TIMEOUT' });
    await pending.receive(packTree(trees[0]!, []));
    const held = await store.lock('gc', { timeoutMs: 1000 });
    await held.release();
  });

  it('keeps current untouched when the disk fills up mid-receive', async (ctx) => {
    if (process.getuid?.() !== 0) ctx.skip();
    const root = await tmp();
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', root]);
    try {
      const store = new DirStore(join(root, 'state'));
      const small = await deployFromDirectory(store, await tree({ packages: 2 }), opts);
      const big = await tree({ packages: 20, packageSize: 200_000, variant: 'big' });
      await expect(deployFromDirectory(store, big, opts)).rejects.toMatchObject({ code: 'E_STORE_FULL' });
      expect(await store.live()).toBe(small.id);
      expect(await readlink(store.currentLink)).toBe(`snapshots/${small.id}`);
      expect(await readdir(store.stagingDir)).toEqual([]);
      const release = await readFile(join(store.currentLink, 'apt/dists/stable/InRelease'), 'utf8');
      expect(release).toContain('BEGIN PGP SIGNED MESSAGE');
      // Space is back: the next deploy of something that fits succeeds.
      await deployFromDirectory(store, await tree({ packages: 3, variant: 'next' }), opts);
    } finally {
      execFileSync('umount', ['-l', root]);
    }
  });
});
