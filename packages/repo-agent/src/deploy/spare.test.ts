import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readdir, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPublicKey, scanTree } from '@pkgfleet/shared';
import { makeTestKey, writeSignedTree, type TestKey } from '../../../../test/helpers/signed-repo';
import { DirStore } from '../store/dir-store';
import { gc, verifySnapshot } from '../snapshots';
import { deployFromDirectory } from './local';
import { deploysSettled, type DeployOptions, type DeployResult } from './receive';

/**
 * Deploys staged over the spare tree (a copy of the snapshot before, prepared after each deploy
 * by the daemon): the snapshot must be exactly the one a deploy laid out from scratch would make.
 */
let key: TestKey;
let opts: DeployOptions;
const dirs: string[] = [];

beforeAll(async () => {
  key = await makeTestKey('trusted');
  opts = { trustedKey: await readPublicKey(key.publicKeyArmored), graceMs: 3600_000, lockTimeoutMs: 10_000, spare: true };
});

afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'pkgfleet-spare-'));
  dirs.push(d);
  return d;
}

async function tree(o: Parameters<typeof writeSignedTree>[2], extra: Record<string, string> = {}): Promise<string> {
  const d = await tmp();
  await writeSignedTree(d, key.signer, o);
  for (const [path, body] of Object.entries(extra)) {
    await mkdir(join(d, path, '..'), { recursive: true });
    await writeFile(join(d, path), body);
  }
  return d;
}

/** Wait until the store's lock is free: the spare tree of the last deploy is then ready. */
async function settled(store: DirStore): Promise<void> {
  await (await store.lock('test', { timeoutMs: 10_000 })).release();
}

/** The snapshot holds exactly the tree's files (plus grace ones) with their hashes and modes. */
async function expectExactly(store: DirStore, r: DeployResult, src: string): Promise<void> {
  const report = await verifySnapshot(store, r.id, opts.trustedKey);
  const record = await store.record(r.id);
  expect(record.entries).toEqual((await scanTree(src)).entries);
  expect(report.files).toBe(record.entries.length + record.grace.length);
}

describe('deploy over the spare tree', () => {
  it('makes the same snapshot as a deploy from scratch: changed, removed, added files and a file that becomes a directory', async () => {
    const store = new DirStore(await tmp());
    const a = await tree({ packages: 12 }, { 'extra/x/y': 'y' });
    const first = await deployFromDirectory(store, a, opts);
    // What a stopping daemon waits for: the spare tree is complete and the lock released.
    await deploysSettled();
    expect(await readdir(store.root)).not.toContain('lock');
    expect((await readdir(store.stagingDir)).sort()).toEqual([`.spare.${first.id}`, `.spare.${first.id}.json`]);
    const spareDir = await stat(join(store.stagingDir, `.spare.${first.id}`, 'apt'));
    await expectExactly(store, first, a);

    // One package changed, three removed (their directories go), extra/x a file now.
    const b = await tree({ packages: 9, changed: [2] }, { 'extra/x': 'x' });
    const second = await deployFromDirectory(store, b, opts);
    // Staged over the spare: its directories became the snapshot's.
    expect((await stat(join(store.snapshotsDir, second.id, 'apt'))).ino).toBe(spareDir.ino);
    expect(second.counter.filesLinked + second.counter.filesReceived).toBe((await scanTree(b)).entries.length);
    await expectExactly(store, second, b);
    const unchanged = 'apt/pool/main/p/pkg3/pkg3_1.0_amd64.deb';
    expect((await stat(join(store.snapshotsDir, second.id, unchanged))).ino).toBe((await stat(join(store.snapshotsDir, first.id, unchanged))).ino);
    // The snapshot before is untouched.
    await expectExactly(store, first, a);
    await settled(store);

    // And back: a directory where the file was, the removed packages again.
    const third = await deployFromDirectory(store, a, opts);
    await expectExactly(store, third, a);
    await expectExactly(store, second, b);
    expect(await store.live()).toBe(third.id);
  });

  it('refuses a damaged spare tree without activating, drops it, and lays out the next deploy from scratch', async () => {
    const store = new DirStore(await tmp());
    const a = await tree({ packages: 5 });
    const first = await deployFromDirectory(store, a, opts);
    await settled(store);
    await unlink(join(store.stagingDir, `.spare.${first.id}`, 'apt/pool/main/p/pkg1/pkg1_1.0_amd64.deb'));
    await expect(deployFromDirectory(store, a, opts)).rejects.toMatchObject({ code: 'E_STORE_CORRUPT' });
    expect(await store.live()).toBe(first.id);
    expect(await readdir(store.stagingDir)).toEqual([]);
    const next = await deployFromDirectory(store, a, opts);
    await expectExactly(store, next, a);
  });

  it('never uses a spare tree without its list (an interrupted preparation): recover removes it', async () => {
    const store = new DirStore(await tmp());
    const a = await tree({ packages: 5 });
    const first = await deployFromDirectory(store, a, opts);
    await settled(store);
    await unlink(join(store.stagingDir, `.spare.${first.id}.json`));
    const second = await deployFromDirectory(store, await tree({ packages: 6 }), opts);
    expect((await stat(join(store.snapshotsDir, second.id, 'apt'))).ino).not.toBe((await stat(join(store.snapshotsDir, first.id, 'apt'))).ino);
    await settled(store);
    expect((await readdir(store.stagingDir)).sort()).toEqual([`.spare.${second.id}`, `.spare.${second.id}.json`]);
  });

  it('gc drops a spare tree whose snapshot it removes, and keeps one whose snapshot stays', async () => {
    const store = new DirStore(await tmp());
    const first = await deployFromDirectory(store, await tree({ packages: 3 }), opts);
    await settled(store);
    const second = await deployFromDirectory(store, await tree({ packages: 4 }), { ...opts, spare: false });
    await gc(store, 5, 10_000);
    expect(await readdir(store.stagingDir)).toHaveLength(2);
    await gc(store, 1, 10_000);
    expect(await readdir(store.snapshotsDir)).toEqual([second.id]);
    expect(await readdir(store.stagingDir)).toEqual([]);
    expect(first.id).not.toBe(second.id);
  });
});
