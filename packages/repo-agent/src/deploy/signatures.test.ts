import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPublicKey, scanTree } from '@pkgfleet/shared';
import { makeTestKey, writeSignedTree, type TestKey } from '../../../../test/helpers/signed-repo';
import { verifySnapshotSignatures, VerifiedSignatures, type TrustedKey } from './signatures';

let key: TestKey;
let trusted: TrustedKey;
let other: TrustedKey;
const dirs: string[] = [];
beforeAll(async () => {
  key = await makeTestKey('trusted');
  trusted = await readPublicKey(key.publicKeyArmored);
  other = await readPublicKey((await makeTestKey('someone else')).publicKeyArmored);
});
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function signedTree(o: Parameters<typeof writeSignedTree>[2] = {}): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'pkgfleet-sig-'));
  dirs.push(d);
  await writeSignedTree(d, key.signer, o);
  return d;
}

describe('verified signatures', () => {
  it('verifies the same signed bytes against the same key once, and never for another key or other bytes', async () => {
    const root = await signedTree();
    const { entries } = await scanTree(root);
    const reads: string[] = [];
    const read = (p: string) => (reads.push(p), readFile(join(root, p)));
    const verified = new VerifiedSignatures();
    const first = await verifySnapshotSignatures(entries, read, trusted, 'a', verified);
    expect(reads.filter((p) => p.endsWith('InRelease') || p.endsWith('.gpg') || p.endsWith('.asc')).length).toBe(first.signatures);
    reads.length = 0;
    // Same hashes: no signature is read (nor verified) again; the indexes are still checked.
    const again = await verifySnapshotSignatures(entries, read, trusted, 'a', verified);
    expect(again).toEqual(first);
    expect(reads.filter((p) => p.endsWith('InRelease') || p.endsWith('.gpg') || p.endsWith('.asc'))).toEqual([]);
    // Another trusted key: verified afresh, and refused.
    await expect(verifySnapshotSignatures(entries, read, other, 'a', verified)).rejects.toThrow(/signature|InRelease|key/i);
    // Other bytes (one package changed: new InRelease, Release, repomd.xml): verified afresh.
    const changed = await signedTree({ changed: [1] });
    const changedEntries = (await scanTree(changed)).entries;
    reads.length = 0;
    const readChanged = (p: string) => (reads.push(p), readFile(join(changed, p)));
    await verifySnapshotSignatures(changedEntries, readChanged, trusted, 'b', verified);
    expect(reads.filter((p) => p.endsWith('InRelease') || p.endsWith('repomd.xml.asc')).length).toBeGreaterThan(0);
  });
});
