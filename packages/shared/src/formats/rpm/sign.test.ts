import { execFile as execFileCb } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rpmbuild, rpmsignWithGpg } from '../../../../../test/helpers/rpms';
import { generateSigningKey } from '../../pgp/keys';
import { loadSigner, type Signer } from '../../pgp/signer';
import { readRpm } from './header';
import { checkHeaderDigests, signRpm } from './sign';
import { SigTag } from './tags';

const execFile = promisify(execFileCb);
let dir: string;
let unsigned: string;
const keys: Record<'ed25519' | 'rsa4096', { signer: Signer; pub: string }> = {} as never;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rpm-sign-'));
  unsigned = await rpmbuild(dir, { name: 'signme', version: '1.0', release: '1', arch: 'x86_64', files: { '/usr/bin/signme': '#!/bin/sh\n' } });
  for (const algo of ['ed25519', 'rsa4096'] as const) {
    const k = await generateSigningKey({ name: `sign test ${algo}`, email: 'sign@example.com', algo });
    keys[algo] = { signer: await loadSigner(k.privateKeyArmored, undefined), pub: join(dir, `${algo}.asc`) };
    await writeFile(keys[algo].pub, k.publicKeyArmored);
  }
}, 120_000);

afterAll(async () => {
  await execFile('gpgconf', ['--homedir', join(dir, 'gnupg'), '--kill', 'gpg-agent']).catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

async function signFile(input: string, output: string, signer: Signer): Promise<void> {
  const bytes = await readFile(input);
  const rpm = readRpm(bytes, input);
  const prefix = await signRpm(rpm, signer);
  await writeFile(output, Buffer.concat([prefix, bytes.subarray(rpm.layout.headerStart)]));
}

/** `rpmkeys -Kv` in a scratch rpmdb that trusts only `pubkey`; signatures required. */
async function checksig(file: string, pubkey: string): Promise<{ ok: boolean; out: string }> {
  const root = await mkdtemp(join(dir, 'rpmdb-'));
  await execFile('rpmkeys', ['--root', root, '--import', pubkey]);
  try {
    const r = await execFile('rpmkeys', ['--root', root, '-Kv', '--define', '_pkgverify_level signature', file]);
    return { ok: true, out: r.stdout };
  } catch (err) {
    return { ok: false, out: `${(err as { stdout: string }).stdout}${(err as { stderr: string }).stderr}` };
  }
}

describe('signRpm', () => {
  for (const [algo, tag, label] of [['ed25519', SigTag.DSA, 'EdDSA'], ['rsa4096', SigTag.RSA, 'RSA']] as const) {
    it(`${algo}: rpmkeys --checksig with the published key says OK, payload untouched, rpm -qpi shows it`, async () => {
      const out = join(dir, `signed-${algo}.rpm`);
      await signFile(unsigned, out, keys[algo].signer);
      const r = await checksig(out, keys[algo].pub);
      expect(r.out).toMatch(new RegExp(`Header V4 ${label}/SHA\\d+ Signature, key ID ${keys[algo].signer.keyId.slice(-8).toLowerCase()}: OK`));
      expect(r.out).toMatch(/Payload SHA256 digest: OK/);
      expect(r.out).toMatch(/MD5 digest: OK/);
      expect(r.ok).toBe(true);

      const before = readRpm(await readFile(unsigned), unsigned);
      const afterBytes = await readFile(out);
      const after = readRpm(afterBytes, out);
      expect(after.signature.has(tag)).toBe(true);
      // header + payload byte-identical, and the file keeps its size (reserved space shrinks)
      expect(Buffer.compare(afterBytes.subarray(after.layout.headerStart), (await readFile(unsigned)).subarray(before.layout.headerStart))).toBe(0);
      expect(afterBytes.length).toBe((await readFile(unsigned)).length);

      const qpi = (await execFile('rpm', ['-qpi', '--nosignature', out])).stdout;
      expect(qpi).toMatch(new RegExp(`Signature\\s*: ${label}/SHA\\d+, .*Key ID ${keys[algo].signer.keyId.toLowerCase()}`));
    });
  }

  it('an rpm signed by another key (rpmsign + gpg) is re-signed with ours: the old signature is gone', async () => {
    const gnupg = join(dir, 'gnupg');
    await mkdir(gnupg, { mode: 0o700 });
    await execFile('gpg', ['--homedir', gnupg, '--batch', '--passphrase', '', '--quick-gen-key', 'Other Builder <other@example.com>', 'rsa3072', 'sign', 'never']);
    await execFile('gpg', ['--homedir', gnupg, '--batch', '--armor', '--output', join(dir, 'other.asc'), '--export', 'other@example.com']);
    const presigned = join(dir, 'presigned.rpm');
    await writeFile(presigned, await readFile(unsigned));
    await rpmsignWithGpg([presigned], gnupg, 'other@example.com');
    expect((await checksig(presigned, join(dir, 'other.asc'))).ok).toBe(true);

    const out = join(dir, 'resigned.rpm');
    await signFile(presigned, out, keys.ed25519.signer);
    const ours = await checksig(out, keys.ed25519.pub);
    expect(ours.ok).toBe(true);
    const theirs = await checksig(out, join(dir, 'other.asc'));
    expect(theirs.ok).toBe(false);
    expect(theirs.out).toMatch(/NOKEY/);
    const rpm = readRpm(await readFile(out), out);
    expect(rpm.signature.has(SigTag.RSA)).toBe(false); // the gpg RSA signature
    expect(rpm.signature.has(SigTag.DSA)).toBe(true);

    // re-signing our own output again keeps exactly one signature and a valid file
    const again = join(dir, 'resigned-twice.rpm');
    await signFile(out, again, keys.rsa4096.signer);
    const twice = readRpm(await readFile(again), again);
    expect([twice.signature.has(SigTag.DSA), twice.signature.has(SigTag.RSA)]).toEqual([false, true]);
    expect((await checksig(again, keys.rsa4096.pub)).ok).toBe(true);
  });

  it('refuses to sign a header changed after the build (digests would lie)', async () => {
    const bytes = Buffer.from(await readFile(unsigned));
    const rpm = readRpm(bytes, 'tampered.rpm');
    // change one letter of the summary: a value, not the structure
    const e = rpm.header.entry(1004)!;
    const at = rpm.layout.headerStart + rpm.header.storeStart + e.offset;
    bytes[at] = bytes[at]! ^ 0x01;
    const err = (() => { try { checkHeaderDigests(readRpm(bytes, 'tampered.rpm')); } catch (e) { return e as Error & { code: string }; } })();
    expect(err?.code).toBe('E_RPM_DIGEST');
    expect(err?.message).toMatch(/^tampered\.rpm: header SHA256 digest does not match/);
  });
});
