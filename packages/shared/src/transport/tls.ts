import type { TLSSocket } from 'node:tls';

/**
 * TLS settings for pkgfleet's transport: TLS 1.3 only, with an external pre-shared key per
 * credential (RFC 8446 §2.2, psk_dhe_ke: the PSK authenticates both sides, ECDHE gives forward
 * secrecy). No certificates, no home-made cryptography: it is OpenSSL via node:tls.
 */
/**
 * In preference order. Node binds an external PSK to SHA-256, so TLS 1.3 can only pick a SHA-256
 * suite with it: with AES-256-GCM-SHA384 listed first, ChaCha20-Poly1305 was what every connection
 * got. AES-128-GCM (TLS 1.3's mandatory suite, what OpenSSH negotiates too) runs on AES-NI: 512 MiB
 * over loopback cost 1.10 s of CPU for both ends against 1.32-1.62 s with ChaCha20.
 */
export const TLS_CIPHERS = 'TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384';
export const TLS_MIN_VERSION = 'TLSv1.3' as const;
export const PSK_IDENTITY_HINT = 'pkgfleet';

const IDENTITY = Symbol('pkgfleet.identity');

/** Remember which credential a TLS socket authenticated with (set in the PSK callback). */
export function setSocketIdentity(socket: TLSSocket, id: string): void {
  (socket as unknown as Record<symbol, string>)[IDENTITY] = id;
}

export function socketIdentity(socket: TLSSocket): string | undefined {
  return (socket as unknown as Record<symbol, string | undefined>)[IDENTITY];
}
