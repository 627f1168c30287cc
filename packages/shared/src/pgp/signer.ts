import type * as openpgp from 'openpgp';
import { openpgpLib } from './lib';
import { PkgfleetError } from '../errors';

/**
 * Signing with an OpenPGP key held in memory (openpgp.js). The only place in pkgfleet that signs;
 * apt (InRelease, Release.gpg), yum (repomd.xml.asc) and rpm headers all go through a Signer.
 * Hashes are SHA-256 or stronger: current apt (sqv) and rpm refuse SHA-1.
 */
export interface Signer {
  /** Upper-case hex fingerprint of the signing (primary) key. */
  readonly fingerprint: string;
  /** Upper-case hex, last 16 digits of the fingerprint. */
  readonly keyId: string;
  readonly algorithm: 'ed25519' | 'rsa';
  /**
   * Detached signature, binary OpenPGP packets (rpm headers, Release.gpg when armor=false).
   * `date` is the signature's creation time (default now): with the same date, Ed25519 and RSA
   * signatures are byte-identical, so a publish is reproducible.
   */
  signDetached(data: Uint8Array, date?: Date): Promise<Uint8Array>;
  /** Detached signature, ASCII-armored (Release.gpg, repomd.xml.asc). */
  signDetachedArmored(data: Uint8Array, date?: Date): Promise<string>;
  /** Clear-signed text (InRelease). */
  clearSign(text: string, date?: Date): Promise<string>;
  /** The public key, armored and binary (for `signed-by=`). */
  publicKeyArmored(): string;
  publicKeyBinary(): Uint8Array;
}

// No random salt notation (openpgp.js 6 adds one by default): Ed25519 (RFC 8032) and RSA
// PKCS#1 v1.5 signatures are then deterministic, so the same publish gives the same bytes, as gpg's do.
// enums.hash.sha256 = 8 (RFC 4880 §9.4); a literal so that openpgp.js loads only when used.
const SIGN_CONFIG = { preferredHashAlgorithm: 8, minRSABits: 3072, nonDeterministicSignaturesViaNotation: false } as const;

export class PgpError extends PkgfleetError {}

function algorithmOf(key: openpgp.Key): 'ed25519' | 'rsa' {
  const info = key.getAlgorithmInfo();
  if (info.algorithm === 'rsaSign' || info.algorithm === 'rsaEncryptSign') {
    if ((info.bits ?? 0) < 3072) {
      throw new PgpError('E_PGP_WEAK_KEY', `RSA key ${key.getFingerprint().toUpperCase()} has ${info.bits} bits`, 'apt (sqv) and rpm need RSA ≥ 3072 or Ed25519: generate a new key');
    }
    return 'rsa';
  }
  if (info.algorithm === 'eddsaLegacy' || info.algorithm === 'ed25519') return 'ed25519';
  throw new PgpError('E_PGP_ALGO', `key ${key.getFingerprint().toUpperCase()} uses ${info.algorithm}`, 'use an Ed25519 or RSA ≥ 3072 key');
}

/** Read an armored or binary private key, decrypt it with `passphrase` if it is protected. */
export async function loadSigner(keyData: string | Uint8Array, passphrase: string | undefined, source = 'signing key'): Promise<Signer> {
  const openpgp = await openpgpLib();
  let key: openpgp.PrivateKey;
  try {
    key = typeof keyData === 'string' && keyData.includes('-----BEGIN PGP')
      ? await openpgp.readPrivateKey({ armoredKey: keyData })
      : await openpgp.readPrivateKey({ binaryKey: typeof keyData === 'string' ? Buffer.from(keyData) : keyData });
  } catch (err) {
    throw new PgpError('E_PGP_READ', `${source}: not an OpenPGP private key (${(err as Error).message})`, 'pass the armored private key made by `orchestrator-agent keys generate`', { cause: err });
  }
  if (key.keyPacket.version !== 4) {
    throw new PgpError('E_PGP_VERSION', `${source}: v${key.keyPacket.version} key`, 'gpgv, sqv and rpm accept v4 keys only: generate a v4 key');
  }
  if (!key.isDecrypted()) {
    if (passphrase === undefined) {
      throw new PgpError('E_PGP_PASSPHRASE', `${source}: the key is protected by a passphrase and none was given`, 'pass --passphrase-file FILE or set PKGFLEET_KEY_PASSPHRASE');
    }
    try {
      key = await openpgp.decryptKey({ privateKey: key, passphrase });
    } catch (err) {
      throw new PgpError('E_PGP_PASSPHRASE', `${source}: wrong passphrase (${(err as Error).message})`, 'check the passphrase file', { cause: err });
    }
  }
  const algorithm = algorithmOf(key);
  const fingerprint = key.getFingerprint().toUpperCase();
  const pub = key.toPublic();
  const signingKeys = key;
  return {
    fingerprint,
    keyId: fingerprint.slice(-16),
    algorithm,
    async signDetached(data, date) {
      const message = await openpgp.createMessage({ binary: data, date });
      return openpgp.sign({ message, signingKeys, detached: true, format: 'binary', config: SIGN_CONFIG, date });
    },
    async signDetachedArmored(data, date) {
      const message = await openpgp.createMessage({ binary: data, date });
      return openpgp.sign({ message, signingKeys, detached: true, format: 'armored', config: SIGN_CONFIG, date });
    },
    async clearSign(text, date) {
      // As gpg --clearsign writes it (and apt compares InRelease with Release): the text's last
      // line break is the one before the signature armor, and lines end in LF (openpgp.js writes
      // CRLF; the signature is over canonical CRLF text either way).
      const body = text.endsWith('\n') ? text.slice(0, -1) : text;
      const message = await openpgp.createCleartextMessage({ text: body });
      const armored = await openpgp.sign({ message, signingKeys, config: SIGN_CONFIG, date });
      return armored.replace(/\r\n/g, '\n');
    },
    publicKeyArmored: () => pub.armor(),
    publicKeyBinary: () => pub.write(),
  };
}

/** Read a public key (armored or binary) that signatures are checked against. */
export async function readPublicKey(keyData: string | Uint8Array, source = 'public key'): Promise<openpgp.PublicKey> {
  const openpgp = await openpgpLib();
  try {
    return typeof keyData === 'string' && keyData.includes('-----BEGIN PGP')
      ? await openpgp.readKey({ armoredKey: keyData })
      : await openpgp.readKey({ binaryKey: typeof keyData === 'string' ? Buffer.from(keyData) : keyData });
  } catch (err) {
    throw new PgpError('E_PGP_READ', `${source}: not an OpenPGP public key (${(err as Error).message})`, undefined, { cause: err });
  }
}

/** Check a detached signature (armored or binary) over `data`. Throws naming `what` if it does not verify. */
export async function verifyDetached(data: Uint8Array, signature: string | Uint8Array, key: openpgp.PublicKey, what: string): Promise<void> {
  const openpgp = await openpgpLib();
  try {
    const sig = typeof signature === 'string'
      ? await openpgp.readSignature({ armoredSignature: signature })
      : await openpgp.readSignature({ binarySignature: signature });
    const message = await openpgp.createMessage({ binary: data });
    const res = await openpgp.verify({ message, signature: sig, verificationKeys: key, expectSigned: true });
    await res.signatures[0]!.verified;
  } catch (err) {
    throw new PgpError('E_PGP_BAD_SIGNATURE', `${what}: signature does not verify against key ${key.getFingerprint().toUpperCase()} (${(err as Error).message})`, 'the snapshot was signed by another key or changed after signing', { cause: err });
  }
}

/** Check a clear-signed document; returns the signed text. */
export async function verifyClearSigned(armored: string, key: openpgp.PublicKey, what: string): Promise<string> {
  const openpgp = await openpgpLib();
  try {
    const message = await openpgp.readCleartextMessage({ cleartextMessage: armored });
    const res = await openpgp.verify({ message, verificationKeys: key, expectSigned: true });
    await res.signatures[0]!.verified;
    return res.data as string;
  } catch (err) {
    throw new PgpError('E_PGP_BAD_SIGNATURE', `${what}: signature does not verify against key ${key.getFingerprint().toUpperCase()} (${(err as Error).message})`, 'the snapshot was signed by another key or changed after signing', { cause: err });
  }
}
