import pkg from '../../../package.json' with { type: 'json' };

/** The pkgfleet release these agents belong to; all three agents share it. */
export const VERSION: string = pkg.version;
/**
 * Protocol versions this build speaks, newest last. 2: a push offer may leave out the hashes; the
 * sender hashes while streaming and sends the digest with file.end (docs/TRANSPORT.md).
 */
export const PROTOCOL_VERSIONS = [1, 2] as const;
