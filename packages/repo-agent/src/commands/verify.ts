import { contextFor, PkgfleetError, type Command } from '@pkgfleet/shared';
import { loadRepoAgent, loadTrustedKey } from '../config';
import { verifySnapshot } from '../snapshots';

export function register(program: Command): void {
  program
    .command('verify')
    .description('re-hash every file of a snapshot (default: the live one) and re-check its signatures')
    .argument('[id]', 'snapshot id (default: the live one)')
    .option('--json', 'print one JSON document')
    .action(async (id: string | undefined, opts: { json?: boolean }, cmd: Command) => {
      const ctx = contextFor(cmd, 'repo-agent');
      const { store, config } = loadRepoAgent(ctx);
      const key = await loadTrustedKey(config, ctx.logger);
      const target = id ?? (await store.live());
      if (!target) throw new PkgfleetError('E_VERIFY_NONE', 'no snapshot is live', 'name one: `repo-agent verify ID`');
      const r = await verifySnapshot(store, target, key);
      if (opts.json) ctx.stdout(JSON.stringify({ ok: true, ...r }, null, 2));
      else ctx.stdout(`snapshot ${r.id}: ok, ${r.files} files (${r.bytes} bytes) match, ${r.signatures} signatures and ${r.indexes} signed index hashes verify`);
    });
}
