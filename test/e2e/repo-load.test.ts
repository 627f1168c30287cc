import { afterAll, expect, it } from 'vitest';
import { execFile as execFileCb } from 'node:child_process';
import { cp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readPublicKey } from '@pkgfleet/shared';
import { DirStore } from '../../packages/repo-agent/src/store/dir-store';
import { deployFromDirectory } from '../../packages/repo-agent/src/deploy/local';
import { gc } from '../../packages/repo-agent/src/snapshots';
import { repoAgentFixture, type RepoAgentFixture } from '../helpers/repo-agent';
import { sha256hex } from '../helpers/http-get';
import { sleep } from '../helpers/net';

const execFile = promisify(execFileCb);

/**
 * The point of the product: snapshots swap under HTTP load and no client sees an error or a mix
 * of old and new. wrk (a second process) hammers the repo-agent's HTTP server for 10 s while
 * deploys alternate two trees every 200 ms (and gc removes old snapshots); a client loop reads
 * InRelease and fetches each Packages index it names by hash (Acquire-By-Hash), as apt does, and
 * checks it. The same loop against the old way (rm -rf, then cp -R into the web root) fails.
 */
let fx: RepoAgentFixture | undefined;
afterAll(async () => fx?.cleanup());

/** InRelease → every Packages* index it lists → fetched by hash and checked. */
async function clientLoop(base: string, until: () => boolean): Promise<{ rounds: number; failures: string[] }> {
  let rounds = 0;
  const failures: string[] = [];
  while (!until()) {
    rounds++;
    try {
      const res = await fetch(`${base}/apt/dists/stable/InRelease`);
      if (res.status !== 200) {
        failures.push(`InRelease: HTTP ${res.status}`);
        continue;
      }
      const text = await res.text();
      const sha = text.split(/^SHA256:$/m)[1];
      const lines = [...(sha ?? '').matchAll(/^ ([0-9a-f]{64}) +(\d+) (main\/binary-amd64\/Packages\S*)$/gm)];
      if (lines.length === 0) failures.push('InRelease: no Packages listed');
      for (const [, hash, size] of lines) {
        const r = await fetch(`${base}/apt/dists/stable/main/binary-amd64/by-hash/SHA256/${hash}`);
        const body = Buffer.from(await r.arrayBuffer());
        if (r.status !== 200) failures.push(`by-hash ${hash!.slice(0, 12)}: HTTP ${r.status}`);
        else if (body.length !== Number(size) || sha256hex(body) !== hash) failures.push(`by-hash ${hash!.slice(0, 12)}: content does not match InRelease`);
      }
    } catch (err) {
      failures.push(`request failed: ${(err as Error).message}`);
    }
  }
  return { rounds, failures };
}

const WRK_PATHS = [
  '/apt/dists/stable/InRelease',
  '/apt/dists/stable/Release',
  '/apt/dists/stable/main/binary-amd64/Packages',
  '/apt/dists/stable/main/binary-amd64/Packages.gz',
  '/apt/pool/main/p/pkg0/pkg0_1.0_amd64.deb',
  '/apt/pool/main/p/pkg5/pkg5_1.0_amd64.deb',
  '/rpm/stable/x86_64/repodata/repomd.xml',
  '/rpm/stable/x86_64/Packages/pkg3-1.0-1.x86_64.rpm',
];

it('swaps every 200 ms under wrk load: zero non-2xx, by-hash always matches InRelease; rm + cp does not', async () => {
  fx = await repoAgentFixture();
  const f = fx;
  await f.ok(['init', '--trust-key', f.keyFile]);
  // Two trees with the same paths and different content.
  const trees = [await f.tree({ packages: 20, variant: 'a' }), await f.tree({ packages: 20, variant: 'b' })];
  await f.ok(['import', '--from', trees[0]!]);
  const { url, stop } = await f.serve();

  const store = new DirStore(f.stateDir);
  const opts = { trustedKey: await readPublicKey(f.key.publicKeyArmored), graceMs: 3_600_000, lockTimeoutMs: 30_000 };
  const script = join(f.dir, 'paths.lua');
  await writeFile(script, `local paths = { ${WRK_PATHS.map((p) => JSON.stringify(p)).join(', ')} }\nlocal i = 0\nrequest = function()\n  i = i % #paths + 1\n  return wrk.format("GET", paths[i])\nend\n`);

  let loadDone = false;
  const wrk = execFile('wrk', ['-t1', '-c8', '-d10s', '-s', script, url], { timeout: 60_000 }).finally(() => (loadDone = true));
  const loop = clientLoop(url, () => loadDone);
  let swaps = 0;
  while (!loadDone) {
    const t = Date.now();
    await deployFromDirectory(store, trees[++swaps % 2]!, opts);
    if (swaps % 5 === 0) await gc(store, 3, 30_000);
    await sleep(Math.max(0, 200 - (Date.now() - t)));
  }
  const { stdout } = await wrk;
  const { rounds, failures } = await loop;
  await stop();

  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? 0);
  expect(requests).toBeGreaterThan(0);
  expect(stdout).not.toMatch(/Non-2xx or 3xx responses/);
  expect(stdout).not.toMatch(/Socket errors/);
  expect(swaps).toBeGreaterThanOrEqual(5);
  expect(rounds).toBeGreaterThan(swaps);
  expect(failures).toEqual([]);

  // The old way: the web root is a directory emptied and refilled in place.
  const old = await repoAgentFixture();
  try {
    const oldRoot = join(old.stateDir, 'current');
    await mkdir(oldRoot, { recursive: true });
    await cp(trees[0]!, oldRoot, { recursive: true });
    const server = await old.serve();
    let done = false;
    const oldLoop = clientLoop(server.url, () => done);
    const end = Date.now() + 5000;
    for (let i = 1; Date.now() < end; i++) {
      const t = Date.now();
      for (const name of await readdir(oldRoot)) await rm(join(oldRoot, name), { recursive: true, force: true });
      await cp(trees[i % 2]!, oldRoot, { recursive: true });
      await sleep(Math.max(0, 200 - (Date.now() - t)));
    }
    done = true;
    const oldResult = await oldLoop;
    await server.stop();
    expect(oldResult.failures.length).toBeGreaterThan(0);
  } finally {
    await old.cleanup();
  }
}, 180_000);
