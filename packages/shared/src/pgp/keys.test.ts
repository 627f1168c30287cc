import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exportPublicKey, generateSigningKey } from './keys';
import { loadSigner } from './signer';

const dir = mkdtempSync(join(tmpdir(), 'pgp-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Check a detached signature with gpgv and sqv, the verifiers apt uses. */
function verifiers(pubBinary: Uint8Array, data: string, sig: Uint8Array, tag: string): { gpgv: number; sqv: number } {
  const kr = join(dir, `${tag}.gpg`);
  writeFileSync(kr, pubBinary);
  writeFileSync(join(dir, `${tag}.data`), data);
  writeFileSync(join(dir, `${tag}.sig`), sig);
  const gpgv = spawnSync('gpgv', ['--keyring', kr, join(dir, `${tag}.sig`), join(dir, `${tag}.data`)]).status ?? -1;
  const sqv = spawnSync('sqv', ['--keyring', kr, join(dir, `${tag}.sig`), join(dir, `${tag}.data`)]).status ?? -1;
  return { gpgv, sqv };
}

describe('generateSigningKey', () => {
  it('makes a v4 Ed25519 key whose signatures gpgv and sqv accept, and that needs its passphrase', async () => {
    const k = await generateSigningKey({ name: 'Test Repo', email: 'repo@example.com', passphrase: 'correct horse' });
    expect(k.privateKeyArmored).toContain('BEGIN PGP PRIVATE KEY BLOCK');
    await expect(loadSigner(k.privateKeyArmored, undefined)).rejects.toThrow(/passphrase/);
    await expect(loadSigner(k.privateKeyArmored, 'wrong')).rejects.toThrow(/wrong passphrase/);
    const signer = await loadSigner(k.privateKeyArmored, 'correct horse');
    expect(signer.algorithm).toBe('ed25519');
    expect(signer.fingerprint).toBe(k.fingerprint);
    expect(k.fingerprint).toMatch(/^[0-9A-F]{40}$/); // v4 fingerprints are SHA-1, 40 hex digits
    const data = 'Origin: test\n';
    expect(verifiers(signer.publicKeyBinary(), data, await signer.signDetached(Buffer.from(data)), 'ed')).toEqual({ gpgv: 0, sqv: 0 });
    // and a signature over other data does not verify
    expect(verifiers(signer.publicKeyBinary(), data + 'x', await signer.signDetached(Buffer.from(data)), 'ed-bad').gpgv).not.toBe(0);
    // gpg itself reads the key: algorithm 22 (EdDSA), no expiry
    const colons = execFileSync('gpg', ['--batch', '--with-colons', '--show-keys', join(dir, 'ed.gpg')], { env: { ...process.env, GNUPGHOME: dir } }).toString();
    expect(colons).toMatch(/^pub:[^:]*:255:22:/m);
  });

  it('makes an RSA-4096 key that gpgv and sqv accept', async () => {
    const k = await generateSigningKey({ name: 'RSA Repo', email: 'rsa@example.com', algo: 'rsa4096' });
    const signer = await loadSigner(k.privateKeyArmored, undefined);
    expect(signer.algorithm).toBe('rsa');
    const data = 'hello\n';
    expect(verifiers(signer.publicKeyBinary(), data, await signer.signDetached(Buffer.from(data)), 'rsa')).toEqual({ gpgv: 0, sqv: 0 });
  });

  it('exports the public key armored and binary, never the secret', async () => {
    const k = await generateSigningKey({ name: 'Exp', email: 'e@example.com' });
    const armored = (await exportPublicKey(k.privateKeyArmored, true)) as string;
    expect(armored).toContain('BEGIN PGP PUBLIC KEY BLOCK');
    expect(armored).not.toContain('PRIVATE');
    const binary = (await exportPublicKey(k.privateKeyArmored, false)) as Uint8Array;
    expect(Buffer.from(await exportPublicKey(binary, false) as Uint8Array).equals(Buffer.from(binary))).toBe(true);
    await expect(exportPublicKey('garbage', true, 'k.asc')).rejects.toThrow(/k\.asc: not an OpenPGP key/);
  });

  it('refuses a bad email', async () => {
    await expect(generateSigningKey({ name: 'x', email: 'not an email' })).rejects.toThrow(/not an email address/);
  });
});
