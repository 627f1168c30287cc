/**
 * Signed apt repositories checked by the real apt: `orchestrator-agent keys generate` and
 * `repo publish` run as real processes, the tree is served over HTTP on 127.0.0.1 (serve.sh), and
 * ../shared/verify/verify-apt.sh runs apt-get update/policy/download and a real install in a
 * throwaway Debian chroot. Real packages come from Debian with `apt-get download`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseStanzas } from '@pkgfleet/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent, REPO_ROOT } from '../helpers/agents';
import { buildDeb, realDebs } from '../helpers/debs';

const VERIFY = resolve(REPO_ROOT, '..', 'shared', 'verify');
const work = mkdtempSync(join(tmpdir(), 'e2e-apt-'));
const servers: number[] = [];
afterAll(() => {
  for (const pid of servers) {
    try { process.kill(pid); } catch { /* already gone */ }
  }
  // retries: a publish's detached `rm -rf` of old trees may still be running
  rmSync(work, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
});

/** `orchestrator-agent` with a state dir of its own (no /etc config). */
async function oa(args: string[], env: NodeJS.ProcessEnv = {}) {
  return runAgent('orchestrator-agent', ['--state-dir', join(work, 'state'), '--log-format', 'json', ...args], { env, timeoutMs: 120_000 });
}

async function ok(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = await oa(args, env);
  if (r.code !== 0) throw new Error(`orchestrator-agent ${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
  return r;
}

function serve(dir: string): string {
  const r = spawnSync('bash', [join(VERIFY, 'serve.sh'), dir, '0'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`serve.sh ${dir}: ${r.stderr}`);
  const pid = Number(r.stdout.trim());
  servers.push(pid);
  const url = /http:\/\/127\.0\.0\.1:\d+/.exec(r.stderr)?.[0];
  if (!url) throw new Error(`serve.sh printed no URL: ${r.stderr}`);
  return url;
}

function verifyApt(url: string, suite: string, pubkey: string, pkg: string, arch: string, env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync('bash', [join(VERIFY, 'verify-apt.sh'), url, suite, 'main', pubkey, pkg, arch], {
    encoding: 'utf8', env: { ...process.env, ...env }, timeout: 540_000,
  });
  return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
}

/** The Packages stanzas of one index, as name → fields (in file order). */
function stanzas(text: string): Map<string, Array<[string, string]>> {
  return new Map(parseStanzas(text).map((s) => [`${s.find((f) => f.name === 'Package')!.value} ${s.find((f) => f.name === 'Version')!.value} ${s.find((f) => f.name === 'Architecture')!.value}`, s.map((f) => [f.name, f.value] as [string, string])]));
}

const key = join(work, 'keys', 'signing.asc');
const pass = join(work, 'keys', 'pass');
const root = join(work, 'repo');
const served = join(root, 'current');
const pub = join(served, 'gpg', 'pkgfleet.gpg');
let url = '';
let real: string[] = [];

beforeAll(async () => {
  mkdirSync(join(work, 'keys'), { recursive: true });
  writeFileSync(pass, 'a passphrase\n', { mode: 0o600 });
  await ok(['keys', 'generate', '--name', 'pkgfleet e2e', '--email', 'e2e@example.com', '--passphrase-file', pass, '--out', key]);
  const ours = join(work, 'ours');
  // four versions published one by one; retention 3 keeps the newest three (dpkg order: ~ first)
  for (const v of ['1.0-1', '2.0~rc1-1', '2.0-1', '1:0.5-1']) {
    await ok(['repo', 'publish', '--root', root, '--channel', 'stable', '--key', key, '--passphrase-file', pass,
      buildDeb(join(ours, v), { name: 'pkgfleet-hello', version: v, arch: 'amd64', description: `hello ${v}\n A test package from pkgfleet's e2e suite.` })]);
  }
  await ok(['repo', 'publish', '--root', root, '--channel', 'stable', '--key', key, '--passphrase-file', pass,
    buildDeb(join(ours, 'arm'), { name: 'pkgfleet-hello', version: '2.0-1', arch: 'arm64' }, 'zstd'),
    buildDeb(join(ours, 'all'), { name: 'pkgfleet-doc', version: '2.0-1', arch: 'all' }, 'gzip')]);
  // real packages: an epoch (bsdutils 1:…), Architecture: all with a long Description (debconf)
  real = realDebs(join(work, 'real'), ['bsdutils', 'debconf']);
  await ok(['repo', 'publish', '--root', root, '--channel', 'stable', '--key', key, '--passphrase-file', pass, join(work, 'real')], { PKGFLEET_KEY_PASSPHRASE: undefined });
  url = serve(served);
}, 600_000);

describe('apt repository published by orchestrator-agent, checked with the real apt', () => {
  it('writes the key with mode 0600, exports it, and publishes the public key as .asc and .gpg', async () => {
    expect(statSync(key).mode & 0o777).toBe(0o600);
    const exported = await ok(['keys', 'export', '--key', key, '--armor']);
    expect(exported.stdout).toBe(readFileSync(join(served, 'gpg', 'pkgfleet.asc'), 'utf8'));
    expect(exported.stdout).not.toContain('PRIVATE');
    expect(readFileSync(join(served, 'gpg', 'pkgfleet.asc'), 'utf8')).toContain('BEGIN PGP PUBLIC KEY BLOCK');
    const colons = execFileSync('gpg', ['--batch', '--with-colons', '--show-keys', pub], { env: { ...process.env, GNUPGHOME: work } }).toString();
    expect(colons).toMatch(/^pub:/m);
  });

  it('amd64: verify-apt passes, including apt-get install in a Debian chroot, and apt-cache policy lists every retained version', () => {
    // the last publishes appended their stanzas to the amd64 index: apt reads those indexes here
    const xzBlocks = execFileSync('xz', ['--robot', '-lv', join(served, 'apt', 'dists', 'stable', 'main', 'binary-amd64', 'Packages.xz')]).toString().split('\n').filter((l) => l.startsWith('block\t'));
    expect(xzBlocks.length).toBeGreaterThan(1);
    const r = verifyApt(`${url}/apt`, 'stable', pub, 'pkgfleet-hello', 'amd64', { APT_INSTALL: 'chroot' });
    expect(r.out).toContain('RESULT: PASS');
    expect(r.out).toContain("dpkg reports 'install ok installed 1:0.5-1'");
    expect(r.out).toContain("ok: InRelease's signed text is byte-identical to Release");
    // apt-cache policy's version table: the retained three, not 1.0-1
    const table = r.out.slice(r.out.indexOf('Version table:'), r.out.indexOf('=== ', r.out.indexOf('Version table:')));
    const versions = [...table.matchAll(/^\s+\|\s+(?:\*\*\* )?\s*(\S+) 500$/gm)].map((m) => m[1]);
    expect(versions).toEqual(['1:0.5-1', '2.0-1', '2.0~rc1-1']);
    expect(r.code).toBe(0);
  }, 600_000);

  it('arm64: verify-apt passes (Architecture: all packages are in the arm64 index too)', () => {
    const r = verifyApt(`${url}/apt`, 'stable', pub, 'pkgfleet-hello', 'arm64');
    expect(r.out).toContain('RESULT: PASS');
    const all = verifyApt(`${url}/apt`, 'stable', pub, 'pkgfleet-doc', 'arm64');
    expect(all.out).toContain('RESULT: PASS');
    expect(r.code).toBe(0);
  }, 300_000);

  it('real Debian packages (epoch, Architecture: all, long Description) publish and verify like ours', () => {
    expect(real.map((f) => f.split('/').pop())).toEqual([expect.stringMatching(/^bsdutils_1%3a/), expect.stringMatching(/^debconf_.*_all\.deb$/)]);
    for (const pkg of ['bsdutils', 'debconf']) {
      const r = verifyApt(`${url}/apt`, 'stable', pub, pkg, 'amd64', { APT_INSTALL: 'none' });
      expect(r.out, pkg).toContain('RESULT: PASS');
    }
  }, 300_000);

  it('every Packages stanza equals apt-ftparchive packages on the same files, field by field and in order', () => {
    const ftp = stanzas(execFileSync('apt-ftparchive', ['packages', 'pool'], { cwd: join(served, 'apt'), maxBuffer: 64 << 20 }).toString());
    let compared = 0;
    for (const arch of ['amd64', 'arm64']) {
      const ours = stanzas(readFileSync(join(served, 'apt', 'dists', 'stable', 'main', `binary-${arch}`, 'Packages'), 'utf8'));
      for (const [id, fields] of ours) {
        expect(fields, id).toEqual(ftp.get(id));
        compared++;
      }
    }
    // amd64: 3 hello + doc + bsdutils + debconf; arm64: hello + doc + debconf
    expect(compared).toBe(9);
    expect(ftp.size).toBe(7);
  });

  it('a Packages index changed after signing makes apt fail with a hash mismatch', () => {
    const copy = join(work, 'tampered');
    cpSync(served + '/', copy, { recursive: true, dereference: false, preserveTimestamps: true });
    const dir = join(copy, 'apt', 'dists', 'stable', 'main', 'binary-amd64');
    // same length: the size still matches, only the hashes can tell (apt checks the size first)
    const text = readFileSync(join(dir, 'Packages'), 'utf8').replace('Package: pkgfleet-doc', 'Package: pkgfleet-dox');
    // overwrite in place: by-hash names are hard links of the same files
    for (const [name, data] of [['Packages', Buffer.from(text)], ['Packages.xz', execFileSync('xz', ['-c'], { input: text })], ['Packages.gz', execFileSync('gzip', ['-nc'], { input: text })]] as const) {
      writeFileSync(join(dir, name), data);
    }
    const r = verifyApt(`${serve(copy)}/apt`, 'stable', pub, 'pkgfleet-hello', 'amd64', { APT_INSTALL: 'none' });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/Packages {2}Hash Sum mismatch/);
    expect(r.out).toMatch(/FAIL: apt-get update \[uncompressed-path\] exit 100/);
  }, 300_000);

  it('a repository signed by another key makes apt fail on the signature', async () => {
    const other = join(work, 'keys', 'other.asc');
    await ok(['keys', 'generate', '--name', 'someone else', '--email', 'other@example.com', '--out', other]);
    const otherRoot = join(work, 'other-repo');
    await ok(['repo', 'publish', '--root', otherRoot, '--channel', 'stable', '--key', other, join(work, 'real')]);
    const r = verifyApt(`${serve(join(otherRoot, 'current'))}/apt`, 'stable', pub, 'debconf', 'amd64', { APT_INSTALL: 'none' });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/NO_PUBKEY|signatures couldn't be verified|is not signed/);
    expect(r.out).toMatch(/FAIL: InRelease: gpgv found no valid signature/);
  }, 300_000);
});

describe('repo publish refuses bad keys and leaves the tree as it was', () => {
  const snapshot = () => readdirSync(join(root, 'trees')).sort().join(',') + readFileSync(join(served, 'apt/dists/stable/InRelease'), 'utf8');

  it('a key file other users can read', async () => {
    const loose = join(work, 'keys', 'loose.asc');
    cpSync(key, loose);
    chmodSync(loose, 0o644);
    const before = snapshot();
    const r = await oa(['repo', 'publish', '--root', root, '--channel', 'stable', '--key', loose, '--passphrase-file', pass, real[0]!]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/signing key .*loose\.asc: group or other users can access it \(mode 0644\)/);
    expect(r.stderr).toMatch(/chmod 600/);
    expect(snapshot()).toBe(before);
  });

  it('a wrong passphrase, and none at all', async () => {
    const before = snapshot();
    const bad = join(work, 'keys', 'badpass');
    writeFileSync(bad, 'not it\n');
    const r = await oa(['repo', 'publish', '--root', root, '--channel', 'stable', '--key', key, '--passphrase-file', bad, real[0]!]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/signing key .*signing\.asc: wrong passphrase/);
    const none = await oa(['repo', 'publish', '--root', root, '--channel', 'stable', '--key', key, real[0]!], { PKGFLEET_KEY_PASSPHRASE: undefined });
    expect(none.stderr).toMatch(/protected by a passphrase and none was given/);
    const env = await oa(['repo', 'publish', '--root', root, '--channel', 'nightly', '--key', key, real[1]!], { PKGFLEET_KEY_PASSPHRASE: 'a passphrase' });
    expect(env.code).toBe(0); // the environment works too (and this one does change the tree)
    expect(snapshot()).not.toBe(before);
  });

  it('a file that is not an OpenPGP key', async () => {
    const junk = join(work, 'keys', 'junk.asc');
    writeFileSync(junk, 'hello\n', { mode: 0o600 });
    const r = await oa(['repo', 'publish', '--root', root, '--channel', 'stable', '--key', junk, real[0]!]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/junk\.asc: not an OpenPGP private key/);
  });
});

describe('repo publish of a folder of many packages (read on worker threads started before the key loads)', () => {
  const many = join(work, 'many');
  const manyRoot = join(work, 'many-repo');
  const publishMany = (passphrase: string) => oa(['repo', 'publish', '--root', manyRoot, '--channel', 'stable', '--key', key, '--passphrase-file', passphrase, many]);
  const index = () => readFileSync(join(manyRoot, 'current', 'apt', 'dists', 'stable', 'main', 'binary-amd64', 'Packages'), 'utf8');

  it('publishes every file; the same command again and one with a wrong passphrase end without changing the index', async () => {
    const files = Array.from({ length: 8 }, (_, i) => buildDeb(many, { name: `many${i}`, version: '1.0-1', arch: i % 2 ? 'all' : 'amd64' }, 'gzip'));
    const first = await publishMany(pass);
    expect(first.code, first.stderr).toBe(0);
    const listed = new Map(parseStanzas(index()).map((s) => [s.find((f) => f.name === 'Package')!.value, s.find((f) => f.name === 'SHA256')!.value]));
    expect(new Map(files.map((f, i) => [`many${i}`, execFileSync('sha256sum', [f]).toString().split(' ')[0]]))).toEqual(listed);
    const before = index();
    // every file is known from the cache: the workers started for them are never used
    const again = await publishMany(pass);
    expect(again.code, again.stderr).toBe(0);
    expect(index()).toBe(before);
    const bad = join(work, 'keys', 'badpass-many');
    writeFileSync(bad, 'not it\n');
    const wrong = await publishMany(bad);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/wrong passphrase/);
    expect(index()).toBe(before);
  });
});
