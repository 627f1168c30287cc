import type * as Openpgp from 'openpgp';

/**
 * openpgp.js, loaded on first use. It is large (~20 MiB of RSS once evaluated) and most agent
 * commands (push, serve, deploy) never sign or verify: they do not pay for it.
 */
let loading: Promise<typeof Openpgp> | undefined;

export function openpgpLib(): Promise<typeof Openpgp> {
  return (loading ??= import('openpgp'));
}
