import { createHash } from 'node:crypto';
import type { Signer } from '../../pgp/signer';
import { LEAD_SIZE, RpmFormatError, signaturePadding, type RpmFile } from './header';
import { encodeHeader, entriesOf, entry, storeSize, type EntryData } from './header-writer';
import { SigTag, Tag } from './tags';

/**
 * Native rpm signing, as `rpmsign --addsign` of rpm >= 4.16 does it: one OpenPGP signature over
 * the main header (magic to end of store) goes into the signature header, under RPMSIGTAG_RSA
 * (268) for an RSA key and RPMSIGTAG_DSA (267) for DSA, ECDSA and EdDSA keys (sign/rpmgensig.c
 * makeSigTag). The main header and the payload are not touched, so every digest the builder
 * wrote (header SHA1/SHA256, payload digest, MD5 and size of header+payload) stays right.
 * Older signatures (header-only and legacy header+payload) are removed; like rpmsign, the
 * reserved space shrinks so that the file keeps its size when it can.
 */

/** Tags that hold an OpenPGP signature; all are replaced by ours. */
const SIGNATURE_TAGS = new Set<number>([SigTag.DSA, SigTag.RSA, SigTag.PGP, SigTag.GPG, SigTag.PGP5, SigTag.OPENPGP, SigTag.BADSHA1_1, SigTag.BADSHA1_2]);

/** OpenPGP public-key algorithm ids (RFC 4880 9.1, RFC 9580 9.1). */
const PK_RSA = new Set([1, 2, 3]);
const PK_DSA_LIKE = new Set([17, 19, 22, 27, 28]);

/** Public-key algorithm of the first signature packet in `packet` (v4 or v6). */
export function signatureKeyAlgorithm(packet: Uint8Array): number {
  const fail = (why: string) => new RpmFormatError('E_RPM_SIGNATURE', `not an OpenPGP signature packet (${why})`, 'the signer returned something other than a detached binary signature');
  if (packet.length < 8) throw fail('too short');
  const ctb = packet[0]!;
  if ((ctb & 0x80) === 0) throw fail('bad packet tag');
  let tag: number;
  let p: number;
  if (ctb & 0x40) {
    tag = ctb & 0x3f;
    const l0 = packet[1]!;
    p = l0 < 192 ? 2 : l0 < 224 ? 3 : l0 === 255 ? 6 : 2;
  } else {
    tag = (ctb >> 2) & 0x0f;
    const lt = ctb & 3;
    p = 1 + (lt === 0 ? 1 : lt === 1 ? 2 : lt === 2 ? 4 : 0);
  }
  if (tag !== 2) throw fail(`packet type ${tag}`);
  const version = packet[p]!;
  // v3: version, 5, sigtype, time(4), key id(8), pk algo; v4/v6: version, sigtype, pk algo
  if (version === 3) return packet[p + 15]!;
  if (version === 4 || version === 6) return packet[p + 2]!;
  throw fail(`signature version ${version}`);
}

/** The signature-header tag rpm >= 4.16 uses for a header-only signature by this algorithm. */
export function headerSignatureTag(pubkeyAlgorithm: number): number {
  if (PK_RSA.has(pubkeyAlgorithm)) return SigTag.RSA;
  if (PK_DSA_LIKE.has(pubkeyAlgorithm)) return SigTag.DSA;
  throw new RpmFormatError('E_RPM_SIGNATURE', `OpenPGP public-key algorithm ${pubkeyAlgorithm} has no rpm signature tag`, 'sign with an Ed25519 or RSA key');
}

/** Hex SHA-256 of the main header, as RPMSIGTAG_SHA256 stores it. */
export function headerSha256(rpm: RpmFile): string {
  return createHash('sha256').update(rpm.header.bytes).digest('hex');
}

/**
 * Checks the header digests the builder stored against the header bytes: a header changed
 * after the build cannot be signed (rpm would refuse it anyway).
 */
export function checkHeaderDigests(rpm: RpmFile): void {
  const sha256 = rpm.signature.string(SigTag.SHA256);
  if (sha256 !== undefined && sha256 !== headerSha256(rpm)) {
    throw new RpmFormatError('E_RPM_DIGEST', `${rpm.file}: header SHA256 digest does not match the header (corrupt or modified after the build)`, 'rebuild the package');
  }
  const sha1 = rpm.signature.string(SigTag.SHA1);
  if (sha1 !== undefined && sha1 !== createHash('sha1').update(rpm.header.bytes).digest('hex')) {
    throw new RpmFormatError('E_RPM_DIGEST', `${rpm.file}: header SHA1 digest does not match the header (corrupt or modified after the build)`, 'rebuild the package');
  }
}

/**
 * The new lead + signature header + padding for `rpm` carrying `signaturePacket` (a detached
 * binary OpenPGP signature over `rpm.header.bytes`). The signed file is these bytes followed
 * by the original file from `rpm.layout.headerStart` on, unchanged.
 */
export function signedPrefix(rpm: RpmFile, signaturePacket: Uint8Array): Uint8Array {
  const sigTag = headerSignatureTag(signatureKeyAlgorithm(signaturePacket));
  const oldLength = rpm.signature.bytes.length;
  const kept = entriesOf(rpm.signature).filter((e) => !SIGNATURE_TAGS.has(e.tag) && e.tag !== SigTag.RESERVEDSPACE);
  const entries: EntryData[] = [...kept, entry.bin(sigTag, signaturePacket)];
  if (!rpm.signature.has(SigTag.SHA256)) entries.push(entry.string(SigTag.SHA256, headerSha256(rpm)));
  entries.sort((a, b) => a.tag - b.tag);

  if (rpm.signature.has(SigTag.RESERVEDSPACE)) {
    // keep the signature header's length (rpmsign does the same): reserved space is the
    // highest tag, so it goes last in the store and needs no alignment
    const il = entries.length + 2; // + region + reserved space
    const fixed = 16 + il * 16 + storeSize(entries) + 16; // + trailer
    const room = oldLength - fixed;
    if (room >= 1) entries.push(entry.bin(SigTag.RESERVEDSPACE, new Uint8Array(room)));
  }
  const sig = encodeHeader(entries, Tag.HEADERSIGNATURES);
  const pad = signaturePadding(sig.length);
  const out = new Uint8Array(LEAD_SIZE + sig.length + pad);
  out.set(rpm.leadBytes, 0);
  out.set(sig, LEAD_SIZE);
  return out;
}

/** Sign `rpm`'s header with `signer`; returns the new prefix (see signedPrefix). */
export async function signRpm(rpm: RpmFile, signer: Signer): Promise<Uint8Array> {
  checkHeaderDigests(rpm);
  const packet = await signer.signDetached(rpm.header.bytes);
  return signedPrefix(rpm, packet);
}
