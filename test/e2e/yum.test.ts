import { execFile as execFileCb } from 'node:child_process';
import { copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey, loadSigner } from '@pkgfleet/shared';
import { REPO_ROOT, runAgent } from '../helpers/agents';
import { rpmbuild, rpmbuildSource, rpmsignWithGpg } from '../helpers/rpms';

/**
 * `orchestrator-agent repo publish` with .rpm files, checked by the real dnf and rpm
 * (verify-dnf.sh: isolated installroot, gpgcheck=1, repo_gpgcheck=1) against the tree served
 * over HTTP, and compared with a createrepo_c repository of the same rpms.
 */
const execFile = promisify(execFileCb);
const VERIFY = resolve(REPO_ROOT, '..', 'shared', 'verify');

let dir: string;
let root: string;
let key: string;
let pub: string;
let url: string;
let serverPid: number | undefined;
const rpms: Record<string, string> = {};

async function verifyDnf(repoUrl: string, pkg: string, arch?: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string }> {
  try {
    const r = await execFile(`${VERIFY}/verify-dnf.sh`, [repoUrl, pub, pkg, ...(arch ? [arch] : [])], { env: { ...process.env, ...env }, maxBuffer: 64 << 20, timeout: 300_000 });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

function publish(paths: string[], env: NodeJS.ProcessEnv = {}) {
  return runAgent('orchestrator-agent', ['--log-format', 'json', 'repo', 'publish', '--root', root, '--channel', 'stable', '--key', key, '--json', ...paths], {
    env: { PKGFLEET_CONFIG: join(dir, 'none.json'), PKGFLEET_REPO_BASE_URL: `${url}/current`, ...env },
    timeoutMs: 120_000,
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'yum-e2e-'));
  root = join(dir, 'root');
  await mkdir(root);
  await writeFile(join(dir, 'none.json'), '{}');
  const k = await generateSigningKey({ name: 'pkgfleet yum e2e', email: 'yum@example.com', algo: 'ed25519' });
  key = join(dir, 'key.asc');
  pub = join(dir, 'pub.asc');
  await writeFile(key, k.privateKeyArmored, { mode: 0o600 });
  await writeFile(pub, k.publicKeyArmored);
  const { stdout } = await execFile(`${VERIFY}/serve.sh`, [root, '0'], { env: { ...process.env, SERVE_STATE_DIR: join(dir, 'serve') } });
  serverPid = Number(stdout.trim());
  url = (await readFile(join(dir, 'serve', `${serverPid}.url`), 'utf8')).trim();

  const changelog: [string, string, string][] = Array.from({ length: 12 }, (_, i) => [`Mon Jan ${String(12 - i).padStart(2, '0')} 2024`, `Dev ${i} <dev${i}@example.com> - 1.${12 - i}-1`, `change ${12 - i}`]);
  const built = await Promise.allSettled([
    rpmbuild(dir, {
      name: 'yum-x86', version: '2.1', release: '1.el9', epoch: 3, arch: 'x86_64',
      summary: Buffer.from('na\xefve caf\xe9 tool', 'latin1'),
      preamble: ['Requires: (yum-noarch >= 1.0 if yum-arm)', 'Requires: (yum-noarch or yum-other)', 'Recommends: yum-noarch', 'Suggests: yum-docs', 'Supplements: (yum-x86 and yum-lang)', 'Enhances: yum-arm', 'Conflicts: yum-old < 2', 'Obsoletes: yum-ancient < 1:1.0', 'Provides: yum-tool(api) = 7'],
      files: { '/usr/bin/yum-x86': '#!/bin/sh\necho x86\n', '/etc/yum-x86/yum x86.conf': 'a=1\n', '/usr/share/yum x86/read me.txt': 'docs\n' },
      fileLines: ['%ghost /var/lib/yum-x86/state'],
      changelog,
    }),
    rpmbuild(dir, {
      name: 'yum-arm', version: '0.9~rc1', release: '2', arch: 'aarch64', preamble: ['Requires: yum-noarch'],
      files: Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`/usr/share/yum-arm/d${i % 40}/f-${i}.dat`, String(i)])),
    }),
    rpmbuild(dir, { name: 'yum-noarch', version: '1.0', release: '1', arch: 'noarch', files: { '/usr/share/yum-noarch/data': 'n\n' } }),
    rpmbuild(dir, { name: 'yum-presigned', version: '5', release: '1', arch: 'noarch' }),
  ]);
  const [x86, arm, noarch, presigned] = built.map((r) => { if (r.status === 'rejected') throw r.reason; return r.value; });
  Object.assign(rpms, { x86, arm, noarch, presigned });
  // one rpm arrives already signed by another builder's key: it must be re-signed with ours
  const gnupg = join(dir, 'gnupg');
  await mkdir(gnupg, { mode: 0o700 });
  await execFile('gpg', ['--homedir', gnupg, '--batch', '--passphrase', '', '--quick-gen-key', 'Other Builder <other@example.com>', 'ed25519', 'sign', 'never']);
  await rpmsignWithGpg([presigned!], gnupg, 'other@example.com');
  // two publishes: the second appends its package to the repodata documents of the first
  // (gzip members), which is what dnf reads below
  for (const files of [[x86!, arm!, noarch!], [presigned!]]) {
    const r = await publish(files);
    if (r.code !== 0) throw new Error(`publish failed: ${r.stderr}`);
  }
  const state = JSON.parse(await readFile(join(root, 'state', (await readdir(join(root, 'state'))).sort().pop()!), 'utf8'));
  if (state.formats.yum.channels.stable.docs.x86_64.primary.members !== 2) throw new Error('the second publish did not append to the repodata');
}, 300_000);

afterAll(async () => {
  if (serverPid) process.kill(serverPid);
  await execFile('gpgconf', ['--homedir', join(dir, 'gnupg'), '--kill', 'gpg-agent']).catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

describe('yum repositories that the real dnf and rpm accept', () => {
  for (const [arch, pkg, force] of [['x86_64', 'yum-x86', undefined], ['x86_64', 'yum-noarch', undefined], ['aarch64', 'yum-arm', 'aarch64'], ['aarch64', 'yum-noarch', 'aarch64'], ['x86_64', 'yum-presigned', undefined]] as const) {
    it(`verify-dnf passes: ${pkg} from the ${arch} repository, with the published .repo file`, async () => {
      const r = await verifyDnf(`${url}/current/rpm/stable/${arch}`, pkg, force, { DNF_REPO_FILE: `${url}/current/rpm/stable/pkgfleet-stable-${arch}.repo` });
      expect(r.out).toMatch(/RESULT: PASS/);
      expect(r.out).toMatch(/ok: rpm signature OK: Header V4 EdDSA/);
      expect(r.code).toBe(0);
    }, 300_000);
  }

  it('dnf repoquery lists the same packages, versions, deps and files as for a createrepo_c repository of the same rpms', async () => {
    const signed = join(dir, 'cr-repo');
    await mkdir(signed);
    const pkgdir = join(root, 'current/rpm/stable/x86_64/Packages');
    for (const letter of await readdir(pkgdir)) for (const f of await readdir(join(pkgdir, letter))) await copyFile(join(pkgdir, letter, f), join(signed, f));
    await execFile('createrepo_c', ['--no-database', signed]);
    const qf = ['%{name} %{epoch}:%{version}-%{release}.%{arch}', 'provides', 'requires', 'recommends', 'suggests', 'supplements', 'enhances', 'conflicts', 'obsoletes', 'files']
      .map((t, i) => (i === 0 ? `=== ${t}` : `-- ${t}:\n%{${t}}`)).join('\n');
    const query = async (repoUrl: string, tag: string) => {
      const t = await mkdtemp(join(dir, `dnf-${tag}-`));
      await writeFile(join(t, 'dnf.conf'), `[main]\ngpgcheck=0\nrepo_gpgcheck=0\nreposdir=${t}/repos.d\ncachedir=${t}/cache\nlogdir=${t}/log\npersistdir=${t}/persist\n`);
      await mkdir(join(t, 'repos.d'));
      const r = await execFile('dnf', ['-q', '-y', '--noplugins', `--config=${t}/dnf.conf`, `--installroot=${t}/root`, '--releasever=9', '--forcearch=x86_64',
        `--repofrompath=${tag},${repoUrl}`, `--repo=${tag}`, 'repoquery', '--qf', qf, '*'], { env: { ...process.env, HOME: t, LC_ALL: 'C.UTF-8' }, maxBuffer: 64 << 20 });
      return r.stdout;
    };
    const ours = await query(`${url}/current/rpm/stable/x86_64/`, 'ours');
    const theirs = await query(`file://${signed}`, 'createrepo');
    expect(ours).toContain('=== yum-x86 3:2.1-1.el9.x86_64');
    expect(ours).toContain('=== yum-noarch 0:1.0-1.noarch');
    expect(ours).toContain('(yum-noarch >= 1.0 if yum-arm)');
    expect(ours).toContain('/usr/share/yum x86/read me.txt');
    expect(ours).not.toContain('yum-arm 0:');
    expect(ours).toBe(theirs);
  }, 300_000);

  it('rpms signed by another key were re-signed with ours; payloads are byte-identical to the inputs', async () => {
    const out = join(root, 'current/rpm/stable/x86_64/Packages/y/yum-presigned-5-1.noarch.rpm');
    const { stdout } = await execFile('rpm', ['-qpi', '--nosignature', out]);
    const signer = await loadSigner(await readFile(key, 'utf8'), undefined);
    expect(stdout).toMatch(new RegExp(`Signature\\s*: EdDSA/SHA\\d+, .*Key ID ${signer.keyId.toLowerCase()}`));
    for (const [input, rel] of [[rpms.presigned!, 'x86_64/Packages/y/yum-presigned-5-1.noarch.rpm'], [rpms.arm!, 'aarch64/Packages/y/yum-arm-0.9~rc1-2.aarch64.rpm']] as const) {
      const a = await readFile(input);
      const b = await readFile(join(root, 'current/rpm/stable', rel));
      const tail = (x: Buffer) => {
        // header + payload: everything after lead and signature header
        const sigLen = 16 + 16 * x.readUInt32BE(96 + 8) + x.readUInt32BE(96 + 12);
        return x.subarray(96 + sigLen + ((8 - (sigLen % 8)) % 8));
      };
      expect(Buffer.compare(tail(a), tail(b))).toBe(0);
    }
  });
});

describe('dnf refuses what it must refuse', () => {
  async function copyTree(name: string): Promise<{ base: string; url: string }> {
    const d = join(root, name);
    await cp(join(root, 'current/rpm/stable/x86_64'), d, { recursive: true, dereference: true });
    return { base: d, url: `${url}/${name}` };
  }

  it('primary changed after signing', async () => {
    const t = await copyTree('tampered-primary');
    const md = join(t.base, 'repodata');
    const primary = (await readdir(md)).find((f) => f.endsWith('-primary.xml.gz'))!;
    const { gunzipSync, gzipSync } = await import('node:zlib');
    const xml = gunzipSync(await readFile(join(md, primary))).toString('utf8').replace('<summary>', '<summary>evil ');
    await writeFile(join(md, primary), gzipSync(xml));
    const r = await verifyDnf(t.url, 'yum-x86');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/FAIL: dnf makecache/);
    expect(r.out).toMatch(/checksum|Checksum/);
  }, 300_000);

  it('repomd.xml signed by another key', async () => {
    const t = await copyTree('other-key');
    const other = await generateSigningKey({ name: 'intruder', email: 'intruder@example.com' });
    const signer = await loadSigner(other.privateKeyArmored, undefined);
    const md = join(t.base, 'repodata');
    await writeFile(join(md, 'repomd.xml.asc'), await signer.signDetachedArmored(await readFile(join(md, 'repomd.xml'))));
    const r = await verifyDnf(t.url, 'yum-x86');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/FAIL: dnf makecache/);
    expect(r.out).toMatch(/FAIL: repomd\.xml\.asc: no valid signature/);
  }, 300_000);

  it('an unsigned rpm with gpgcheck=1 (repodata signed by our key)', async () => {
    const d = join(root, 'unsigned');
    await mkdir(d);
    await copyFile(rpms.noarch!, join(d, basename(rpms.noarch!)));
    await execFile('createrepo_c', ['--no-database', d]);
    const signer = await loadSigner(await readFile(key, 'utf8'), undefined);
    await writeFile(join(d, 'repodata/repomd.xml.asc'), await signer.signDetachedArmored(await readFile(join(d, 'repodata/repomd.xml'))));
    const r = await verifyDnf(`${url}/unsigned`, 'yum-noarch', undefined, { DNF_INSTALL: 'strict' });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/ok: dnf makecache/);
    expect(r.out).toMatch(/FAIL: rpm signature check: the rpm carries no OpenPGP signature/);
    expect(r.out).toMatch(/FAIL: dnf install refused the package: .*(not signed|GPG check FAILED)/);
  }, 300_000);
});

describe('bad input: a clear error naming the file, nothing published, the previous tree unchanged', () => {
  const live = async () => (await readFile(join(root, 'current/rpm/stable/x86_64/repodata/repomd.xml'))).toString('utf8');

  it('a .src.rpm, a truncated rpm, a non-rpm, a different build under a published name', async () => {
    const before = await live();
    const srpm = await rpmbuildSource(dir, 'yum-source');
    const truncated = join(dir, 'truncated-1.0-1.noarch.rpm');
    await writeFile(truncated, (await readFile(rpms.noarch!)).subarray(0, 3000));
    const notRpm = join(dir, 'not-an.rpm');
    await writeFile(notRpm, '#!/bin/sh\necho hi\n');
    const rebuilt = await rpmbuild(dir, { name: 'yum-noarch', version: '1.0', release: '1', arch: 'noarch', files: { '/usr/share/yum-noarch/data': 'different\n' } });
    const cases: [string, RegExp][] = [
      [srpm, /yum-source-1\.0-1\.src\.rpm: is a source rpm .*channel "stable" holds binary packages/],
      [truncated, /truncated-1\.0-1\.noarch\.rpm: (truncated|payload)/],
      [notRpm, /not-an\.rpm: not an rpm file/],
      [rebuilt, /yum-noarch-1\.0-1\.noarch\.rpm: yum-noarch-1\.0-1\.noarch is already published in channel "stable" with different content/],
    ];
    for (const [file, message] of cases) {
      const r = await publish([rpms.x86!, file]);
      expect(r.code, file).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(await live()).toBe(before);
    }
  }, 300_000);

  it('a payload damaged after the build fails the publish (payload digest), nothing changes', async () => {
    const before = await live();
    const fresh = await rpmbuild(dir, { name: 'yum-damaged', version: '1', release: '1', arch: 'x86_64', files: { '/usr/share/yum-damaged/blob': 'x'.repeat(5000) } });
    const bytes = Buffer.from(await readFile(fresh));
    bytes[bytes.length - 100]! ^= 0xff;
    const damaged = join(dir, 'damaged.rpm');
    await writeFile(damaged, bytes);
    const r = await publish([damaged]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/payload does not match the header's payload digest/);
    expect(await live()).toBe(before);
  }, 120_000);
});
