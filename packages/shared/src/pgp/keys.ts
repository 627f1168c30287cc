import type * as openpgp from 'openpgp';
import { openpgpLib } from './lib';
import { PgpError } from './signer';

/**
 * New OpenPGP signing keys. v4 keys only, with algorithms that gpg 2.2, gpgv, sqv (apt) and rpm
 * accept: Ed25519 (openpgp.js `ed25519Legacy`, i.e. EdDSA over Ed25519 in a v4 key) or RSA-4096.
 * No encryption subkey: the key signs repositories and nothing else.
 */
export type KeyAlgo = 'ed25519' | 'rsa4096';

export interface GeneratedKey {
  privateKeyArmored: string;
  publicKeyArmored: string;
  fingerprint: string;
}

export async function generateSigningKey(opts: {
  name: string;
  email: string;
  algo?: KeyAlgo;
  passphrase?: string | undefined;
  /** Creation time (tests pass a fixed one). */
  date?: Date;
}): Promise<GeneratedKey> {
  const openpgp = await openpgpLib();
  const algo = opts.algo ?? 'ed25519';
  if (!opts.name.trim()) throw new PgpError('E_PGP_USERID', 'key name is empty', 'pass --name "Example Packages"');
  if (!/^[^\s@<>]+@[^\s@<>]+$/.test(opts.email)) throw new PgpError('E_PGP_USERID', `"${opts.email}" is not an email address`, 'pass --email packages@example.com');
  const common = {
    userIDs: [{ name: opts.name, email: opts.email }],
    subkeys: [],
    passphrase: opts.passphrase || undefined,
    format: 'armored' as const,
    date: opts.date,
    config: { v6Keys: false, preferredHashAlgorithm: openpgp.enums.hash.sha512 },
  };
  const { privateKey, publicKey } = algo === 'rsa4096'
    ? await openpgp.generateKey({ ...common, type: 'rsa', rsaBits: 4096 })
    : await openpgp.generateKey({ ...common, type: 'ecc', curve: 'ed25519Legacy' });
  const key = await openpgp.readKey({ armoredKey: publicKey });
  return { privateKeyArmored: privateKey, publicKeyArmored: publicKey, fingerprint: key.getFingerprint().toUpperCase() };
}

/** The public key of an armored or binary private (or public) key, armored or binary. */
export async function exportPublicKey(keyData: string | Uint8Array, armor: boolean, source = 'key'): Promise<string | Uint8Array> {
  const openpgp = await openpgpLib();
  let key: openpgp.Key;
  try {
    key = typeof keyData === 'string' && keyData.includes('-----BEGIN PGP')
      ? await openpgp.readKey({ armoredKey: keyData })
      : await openpgp.readKey({ binaryKey: typeof keyData === 'string' ? Buffer.from(keyData) : keyData });
  } catch (err) {
    throw new PgpError('E_PGP_READ', `${source}: not an OpenPGP key (${(err as Error).message})`, 'pass the key file made by `orchestrator-agent keys generate`', { cause: err });
  }
  const pub = key.toPublic();
  return armor ? pub.armor() : pub.write();
}
