import { createHash } from 'node:crypto';
import { execFile as execFileCb } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey, loadSigner, memoryLogger, readRpm, type Signer } from '@pkgfleet/shared';
import { makeRpm } from '../../../../../test/helpers/rpms';
import { publish } from '../pipeline';
import { DEFAULT_SETTINGS, type RepoSettings } from '../settings';

const execFile = promisify(execFileCb);
let dir: string;
let signerA: Signer;
let signerB: Signer;
const pubs: Record<string, string> = {};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'yum-format-'));
  for (const [n, algo] of [['A', 'ed25519'], ['B', 'rsa4096']] as const) {
    const k = await generateSigningKey({ name: `key ${n}`, email: `${n}@example.com`, algo });
    pubs[n] = join(dir, `${n}.asc`);
    await writeFile(pubs[n], k.publicKeyArmored);
    if (n === 'A') signerA = await loadSigner(k.privateKeyArmored, undefined);
    else signerB = await loadSigner(k.privateKeyArmored, undefined);
  }
}, 120_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
async function rpm(name: string, version: string, arch = 'x86_64', epoch?: number): Promise<string> {
  const f = join(dir, 'in', `${name}-${version}-${n++}.${arch}.rpm`);
  await mkdir(join(dir, 'in'), { recursive: true });
  await writeFile(f, makeRpm({ name, version, release: '1', arch, epoch, files: [{ path: `/usr/share/${name}/${version}`, data: Buffer.from(version) }] }));
  return f;
}

async function run(root: string, channel: string, paths: string[], signer: Signer, settings: Partial<RepoSettings> = {}) {
  return publish({ root, channel, paths, signer, settings: { ...DEFAULT_SETTINGS, ...settings }, now: new Date(1_750_000_000_000 + n * 1000), logger: memoryLogger() });
}

async function primaryOf(root: string, channel: string, arch: string): Promise<string> {
  const md = join(root, 'current/rpm', channel, arch, 'repodata');
  const f = (await readdir(md)).find((x) => x.endsWith('-primary.xml.gz'))!;
  return gunzipSync(await readFile(join(md, f))).toString('utf8');
}
const versions = (xml: string, name: string) => [...xml.matchAll(new RegExp(`<name>${name}</name>\\s*<arch>[^<]+</arch>\\s*<version epoch="(\\d+)" ver="([^"]+)"`, 'g'))].map((m) => `${m[1]}:${m[2]}`);

async function checksig(file: string, pub: string): Promise<boolean> {
  const db = await mkdtemp(join(dir, 'db-'));
  await execFile('rpmkeys', ['--root', db, '--import', pub]);
  return execFile('rpmkeys', ['--root', db, '-K', '--define', '_pkgverify_level signature', file]).then(() => true, () => false);
}

describe('yum format through the publish pipeline', () => {
  it('keeps the newest N versions of each package by rpm version order', async () => {
    const root = join(dir, 'retention');
    const files = [await rpm('tool', '1.9'), await rpm('tool', '1.10'), await rpm('tool', '1.10~rc1'), await rpm('tool', '2.0^git1'), await rpm('tool', '0.5', 'x86_64', 1)];
    await run(root, 'stable', files, signerA, { retention: 3 });
    expect(versions(await primaryOf(root, 'stable', 'x86_64'), 'tool')).toEqual(['1:0.5', '0:2.0^git1', '0:1.10']);
    // the dropped versions are not in the tree either
    const pk = await readdir(join(root, 'current/rpm/stable/x86_64/Packages/t'));
    expect(pk.sort()).toEqual(['tool-0.5-1.x86_64.rpm', 'tool-1.10-1.x86_64.rpm', 'tool-2.0^git1-1.x86_64.rpm']);
  });

  it('adding one rpm links every signed rpm already published, noarch is one file in every arch repository', async () => {
    const root = join(dir, 'add-one');
    await run(root, 'stable', [await rpm('base', '1.0'), await rpm('common', '1.0', 'noarch'), await rpm('armonly', '1.0', 'aarch64')], signerA);
    const ino = async (rel: string) => (await stat(join(root, 'current/rpm/stable', rel))).ino;
    const before = await ino('x86_64/Packages/b/base-1.0-1.x86_64.rpm');
    expect(await ino('x86_64/Packages/c/common-1.0-1.noarch.rpm')).toBe(await ino('aarch64/Packages/c/common-1.0-1.noarch.rpm'));
    const res = await run(root, 'stable', [await rpm('extra', '2.0')], signerA);
    expect(res.formats.find((f) => f.format === 'yum')!.added).toEqual(['rpm/stable/x86_64/Packages/e/extra-2.0-1.x86_64.rpm']);
    expect(await ino('x86_64/Packages/b/base-1.0-1.x86_64.rpm')).toBe(before);
    const x86 = await primaryOf(root, 'stable', 'x86_64');
    expect(['base', 'common', 'extra'].map((p) => versions(x86, p).length)).toEqual([1, 1, 1]);
    expect(versions(x86, 'armonly')).toEqual([]);
    expect(versions(await primaryOf(root, 'stable', 'aarch64'), 'armonly')).toEqual(['0:1.0']);
  });

  it('another channel is carried over byte for byte; a new signing key re-signs every rpm of every channel', async () => {
    const root = join(dir, 'rotate');
    await run(root, 'nightly', [await rpm('night', '1.0')], signerA);
    await run(root, 'stable', [await rpm('day', '1.0')], signerA);
    const nightlyRepomd = join(root, 'current/rpm/nightly/x86_64/repodata/repomd.xml');
    const before = await readFile(nightlyRepomd);
    const beforeIno = (await stat(nightlyRepomd)).ino;
    await run(root, 'stable', [await rpm('day', '0.9')], signerA);
    expect(Buffer.compare(await readFile(nightlyRepomd), before)).toBe(0);
    expect((await stat(nightlyRepomd)).ino).toBe(beforeIno);
    await run(root, 'stable', [await rpm('day', '1.1')], signerB);
    const day10 = join(root, 'current/rpm/stable/x86_64/Packages/d/day-1.0-1.x86_64.rpm');
    expect(await checksig(day10, pubs.B!)).toBe(true);
    expect(await checksig(day10, pubs.A!)).toBe(false);
    const night = join(root, 'current/rpm/nightly/x86_64/Packages/n/night-1.0-1.x86_64.rpm');
    expect([await checksig(night, pubs.B!), await checksig(night, pubs.A!)]).toEqual([true, false]);
    // the primary's checksum is that of the re-signed file
    const sha = createHashHex(await readFile(day10));
    expect(await primaryOf(root, 'stable', 'x86_64')).toContain(`<checksum type="sha256" pkgid="YES">${sha}</checksum>`);
  }, 60_000);

  it('adding one rpm appends to the live repodata: the documents hold the elements rebuilt from the rpm headers, and the state holds no XML', async () => {
    // a document as its head, its package elements sorted (appending puts the new package's
    // elements after the others: dnf does not care about the order) and its tail
    const normalized = (xml: string) => {
      const first = xml.indexOf('<package ');
      const end = xml.lastIndexOf('</package>\n') + '</package>\n'.length;
      const elements = xml.slice(first, end).split(/(?=<package )/);
      return [xml.slice(0, first), ...elements.sort(), xml.slice(end)].join('');
    };
    // the new rpm's signature carries its signing second: its checksum is named, not compared
    const docs = async (root: string) => {
      const late = createHashHex(await readFile(join(root, 'current/rpm/stable/x86_64/Packages/l/late-1.0-1.noarch.rpm')));
      const out: string[] = [];
      for (const arch of ['x86_64', 'aarch64']) {
        const md = join(root, 'current/rpm/stable', arch, 'repodata');
        for (const f of (await readdir(md)).filter((x) => x.endsWith('.xml.gz')).sort((a, b) => a.slice(65).localeCompare(b.slice(65)))) {
          out.push(normalized(gunzipSync(await readFile(join(md, f))).toString('utf8').replaceAll(late, 'LATE')));
        }
      }
      return out;
    };
    const first = [await rpm('reuse', '1.0'), await rpm('shared', '1.0', 'noarch'), await rpm('armish', '1.0', 'aarch64')];
    const extra = await rpm('late', '1.0', 'noarch');
    const at = (s: number) => new Date(1_760_000_000_000 + s * 1000);
    const publishAt = (root: string, paths: string[], s: number) =>
      publish({ root, channel: 'stable', paths, signer: signerA, settings: DEFAULT_SETTINGS, now: at(s), logger: memoryLogger() });
    const reused = join(dir, 'reuse-a');
    const rebuilt = join(dir, 'reuse-b');
    await publishAt(reused, first, 1);
    // a copy of the same tree (signing again would give other signatures: rpm signs with the clock's second)
    await cp(reused, rebuilt, { recursive: true, verbatimSymlinks: true });
    // in the second root the live repodata is damaged: its elements are rebuilt from the rpm headers
    const live = join(rebuilt, 'current/rpm/stable/x86_64/repodata');
    const primary = (await readdir(live)).find((f) => f.endsWith('-primary.xml.gz'))!;
    await writeFile(join(live, primary), 'not gzip');
    for (const root of [reused, rebuilt]) await publishAt(root, [extra], 2);
    const a = await docs(reused);
    const b = await docs(rebuilt);
    expect(a).toEqual(b);
    expect(a[2]).toContain('<name>late</name>');
    expect(a[2]).toContain('<name>reuse</name>');
    expect(a[5]).toContain('<name>armish</name>');
    expect(a[2]).not.toContain('<name>armish</name>');
    // the reused root appended a member to each document; the damaged one was built whole
    const layout = async (root: string) => {
      const st = JSON.parse(await readFile(join(root, 'state', (await readdir(join(root, 'state'))).sort().pop()!), 'utf8'));
      return ['x86_64', 'aarch64'].map((a) => st.formats.yum.channels.stable.docs[a].primary.members);
    };
    expect(await layout(reused)).toEqual([2, 2]);
    expect(await layout(rebuilt)).toEqual([1, 2]);
    const stateFile = join(reused, 'state', `${(await readdir(join(reused, 'state'))).sort().pop()}`);
    const state = await readFile(stateFile, 'utf8');
    expect(state).not.toContain('<package');
    expect(JSON.parse(state).formats.yum.version).toBe(2);
  });

  it('a version 1 state (elements kept in the state) is read, and the next state is written without them', async () => {
    const root = join(dir, 'v1');
    await run(root, 'stable', [await rpm('old', '1.0')], signerA);
    const stateDir = join(root, 'state');
    const stateFile = join(stateDir, (await readdir(stateDir)).sort().pop()!);
    const snap = JSON.parse(await readFile(stateFile, 'utf8'));
    const pkg = snap.formats.yum.channels.stable.packages[0];
    // what version 1 kept: the elements, here marked so that the test sees they were used
    const before = await primaryOf(root, 'stable', 'x86_64');
    const element = before.slice(before.indexOf('<package '), before.indexOf('</package>\n') + 11);
    Object.assign(pkg.signed, { primary: element.replace('<url>', '<url>v1:'), filelists: '', other: '' });
    snap.formats.yum.version = 1;
    // version 1 recorded neither the documents' layout nor how the tree was made
    delete snap.formats.yum.channels.stable.docs;
    delete snap.formats.yum.channels.stable.change;
    await writeFile(stateFile, JSON.stringify(snap));
    await run(root, 'stable', [await rpm('new', '1.0')], signerA);
    expect(await primaryOf(root, 'stable', 'x86_64')).toContain('<url>v1:');
    const next = await readFile(join(stateDir, (await readdir(stateDir)).sort().pop()!), 'utf8');
    expect(next).not.toContain('<package');
  });

  it('header-range in primary is that of the signed file, also when signing made the signature header grow', async () => {
    const root = join(dir, 'range');
    const f = join(dir, 'in', 'noreserve-1.0-1.x86_64.rpm');
    const input = makeRpm({ name: 'noreserve', arch: 'x86_64', reservedSpace: 0 });
    await writeFile(f, input);
    await run(root, 'stable', [f], signerA);
    const signed = await readFile(join(root, 'current/rpm/stable/x86_64/Packages/n/noreserve-1.0-1.x86_64.rpm'));
    const { layout } = readRpm(signed, 'signed');
    expect(layout.headerStart).toBeGreaterThan(readRpm(input, 'input').layout.headerStart);
    expect(await primaryOf(root, 'stable', 'x86_64')).toContain(`<rpm:header-range start="${layout.headerStart}" end="${layout.headerEnd}"/>`);
  });

  it('refuses a header that claims more bytes than the file holds, before reading or allocating them', async () => {
    const bytes = Buffer.from(makeRpm({ name: 'liar', arch: 'x86_64' }));
    const sigLen = 16 + 16 * bytes.readUInt32BE(104) + bytes.readUInt32BE(108);
    const headerStart = 96 + sigLen + ((8 - (sigLen % 8)) % 8);
    bytes.writeUInt32BE(200 << 20, headerStart + 12); // a 200 MiB store in a ~5 KiB file
    const f = join(dir, 'in', 'liar.rpm');
    await writeFile(f, bytes);
    const before = process.memoryUsage().rss;
    await expect(run(join(dir, 'liar'), 'stable', [f], signerA)).rejects.toThrow(/liar\.rpm: truncated \(the headers need \d+ bytes, the file has \d+\)/);
    expect(process.memoryUsage().rss - before).toBeLessThan(100 << 20);
  });

  it('refuses an rpm whose arch has no repository', async () => {
    const root = join(dir, 'arch');
    await expect(run(root, 'stable', [await rpm('ppc', '1.0', 'ppc64le')], signerA)).rejects.toThrow(/ppc-1\.0-\d+\.ppc64le\.rpm: arch "ppc64le" has no repository/);
  });
});

/**
 * What a client relies on in every channel and arch repository of the live tree: repomd.xml lists
 * exactly the documents in repodata/, each matches its checksums, open-checksum and size, primary
 * lists exactly the rpms under Packages/ with their checksums, and nothing else is there.
 * Returns the number of rpms checked.
 */
async function checkYumTree(root: string): Promise<number> {
  const base = join(root, 'current/rpm');
  const state = JSON.parse(await readFile(join(root, 'state', (await readdir(join(root, 'state'))).sort().pop()!), 'utf8'));
  let checked = 0;
  for (const channel of await readdir(base)) {
    const all = (await readdir(join(base, channel), { recursive: true, withFileTypes: true })).filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name).slice(join(base, channel).length + 1)).sort();
    expect(all).toEqual(state.formats.yum.channels[channel].files);
    for (const arch of ['x86_64', 'aarch64']) {
      const repomd = await readFile(join(base, channel, arch, 'repodata/repomd.xml'), 'utf8');
      const listed = [...repomd.matchAll(/<location href="([^"]+)"\/>/g)].map((m) => m[1]!);
      expect(all.filter((f) => f.startsWith(`${arch}/repodata/`)).sort()).toEqual([...listed.map((h) => `${arch}/${h}`), `${arch}/repodata/repomd.xml`, `${arch}/repodata/repomd.xml.asc`].sort());
      for (const m of repomd.matchAll(/<checksum type="sha256">(\w+)<\/checksum>\s*<open-checksum type="sha256">(\w+)<\/open-checksum>\s*<location href="([^"]+)"\/>\s*<timestamp>\d+<\/timestamp>\s*<size>(\d+)<\/size>\s*<open-size>(\d+)<\/open-size>/g)) {
        const gz = await readFile(join(base, channel, arch, m[3]!));
        const text = gunzipSync(gz);
        expect([createHashHex(gz), createHashHex(text), gz.length, text.length]).toEqual([m[1], m[2], Number(m[4]), Number(m[5])]);
      }
      const primary = await primaryOf(root, channel, arch);
      const inPrimary = [...primary.matchAll(/<checksum type="sha256" pkgid="YES">(\w+)<\/checksum>[\s\S]*?<location href="([^"]+)"\/>/g)].map((m) => [m[2]!, m[1]!] as const);
      expect(Number(/packages="(\d+)"/.exec(primary)![1])).toBe(inPrimary.length);
      expect(inPrimary.map(([h]) => `${arch}/${h}`).sort()).toEqual(all.filter((f) => f.startsWith(`${arch}/Packages/`)));
      for (const [href, sha] of inPrimary) {
        expect(createHashHex(await readFile(join(base, channel, arch, href)))).toBe(sha);
        checked++;
      }
    }
  }
  return checked;
}

describe('yum: trees built over retired ones', () => {
  it('stay consistent through many publishes: appends, retention, another channel, a new signing key, a damaged live document', async () => {
    const root = join(dir, 'recycle');
    const steps: Array<[string, string, string, Signer]> = [
      ['stable', 'rc', '1', signerA],
      ['nightly', 'rc', '2', signerA],
      ['stable', 'rc', '2', signerA],
      ['stable', 'noa', '1', signerA], // noarch: one file in both arch repositories
      ['stable', 'rc', '3', signerA], // 1 leaves stable: the documents are built whole again
      ['nightly', 'noa', '2', signerA],
      ['stable', 'rc', '4', signerB], // every rpm of every channel signed again
      ['stable', 'late', '1', signerB],
      ['stable', 'later', '1', signerB], // after the live primary was damaged (below)
    ];
    for (const [i, [channel, name, version, signer]] of steps.entries()) {
      if (i === steps.length - 1) {
        const md = join(root, 'current/rpm/stable/x86_64/repodata');
        await writeFile(join(md, (await readdir(md)).find((f) => f.endsWith('-primary.xml.gz'))!), 'damaged');
      }
      await run(root, channel, [await rpm(name, version, name === 'noa' ? 'noarch' : 'x86_64')], signer, { retention: 2 });
      expect(await checkYumTree(root)).toBeGreaterThan(0);
    }
    expect(versions(await primaryOf(root, 'stable', 'x86_64'), 'rc')).toEqual(['0:4', '0:3']);
    expect(versions(await primaryOf(root, 'nightly', 'aarch64'), 'noa')).toEqual(['0:2']);
  }, 60_000);
});

function createHashHex(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}
