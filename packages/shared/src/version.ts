import pkg from '../../../package.json' with { type: 'json' };

/** The pkgfleet release these agents belong to; all three agents share it. */
export const VERSION: string = pkg.version;
/** Protocol versions this build speaks, newest last. */
export const PROTOCOL_VERSIONS = [1] as const;
