// In-process part of the deploy benchmark (bundled by scripts/bench/repo.mjs): builds signed trees,
// deploys them into a DirStore, and times the swap itself. Prints one JSON document.
//   node repo-tools.mjs WORK PACKAGES...
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readPublicKey, scanTree } from '@pkgfleet/shared';
import { DirStore } from '../../../packages/repo-agent/src/store/dir-store';
import { deployFromDirectory } from '../../../packages/repo-agent/src/deploy/local';
import { activateSnapshot } from '../../../packages/repo-agent/src/snapshots';
import { makeTestKey, writeSignedTree } from '../../../test/helpers/signed-repo';

const [work, ...sizes] = process.argv.slice(2);
if (!work || sizes.length === 0) {
  console.error('usage: repo-tools.mjs WORK PACKAGES...');
  process.exit(2);
}

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

const key = await makeTestKey('bench');
const trustedKey = await readPublicKey(key.publicKeyArmored);
const opts = { trustedKey, graceMs: 3_600_000, lockTimeoutMs: 60_000 };
const out: Record<string, unknown>[] = [];
const stores: { store: DirStore; ids: string[] }[] = [];
for (const s of sizes) {
  const n = Number(s);
  const dir = join(work, `n${n}`);
  await mkdir(dir, { recursive: true });
  const a = join(dir, 'tree-a');
  const b = join(dir, 'tree-b');
  await writeSignedTree(a, key.signer, { packages: n, packageSize: 4096 });
  await writeSignedTree(b, key.signer, { packages: n, packageSize: 4096, changed: [Math.floor(n / 2)] });
  const files = (await scanTree(a)).entries.length;
  const store = new DirStore(join(dir, 'state'));

  let t = process.hrtime.bigint();
  const first = await deployFromDirectory(store, a, opts);
  const firstMs = ms(t);
  t = process.hrtime.bigint();
  const same = await deployFromDirectory(store, a, opts);
  const sameMs = ms(t);
  t = process.hrtime.bigint();
  const one = await deployFromDirectory(store, b, opts);
  const oneMs = ms(t);

  out.push({
    packages: n,
    files,
    bytes: first.bytes,
    stateDir: store.root,
    ids: [first.id, one.id],
    first: { ms: firstMs, received: first.counter.bytesReceived, files: first.counter.filesReceived },
    same: { ms: sameMs, received: same.counter.bytesReceived, files: same.counter.filesReceived, linked: same.counter.filesLinked },
    onePackage: { ms: oneMs, received: one.counter.bytesReceived, files: one.counter.filesReceived, linked: one.counter.filesLinked },
  });
  stores.push({ store, ids: [first.id, one.id] });
}

// The swap: store.activate (symlink + rename + fsync of the directory), and the whole activate
// operation (lock, record check, swap, unlock), alternating two snapshots of each store. The
// sizes take turns, so both see the same disk (the machine is shared).
const swap: number[][] = stores.map(() => []);
const op: number[][] = stores.map(() => []);
for (let i = 0; i < 200; i++) {
  for (const [k, { store, ids }] of stores.entries()) {
    const id = ids[i % 2]!;
    let t = process.hrtime.bigint();
    await store.activate(id);
    swap[k]!.push(ms(t));
    t = process.hrtime.bigint();
    await activateSnapshot(store, ids[(i + 1) % 2]!, 10_000);
    op[k]!.push(ms(t));
  }
}
for (const [k, o] of out.entries()) {
  o.swapMs = { median: pct(swap[k]!, 50), p95: pct(swap[k]!, 95), max: Math.max(...swap[k]!) };
  o.activateMs = { median: pct(op[k]!, 50), p95: pct(op[k]!, 95), max: Math.max(...op[k]!) };
}
console.log(JSON.stringify(out));
