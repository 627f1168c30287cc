import { contextFor, UsageError, type Command } from '@pkgfleet/shared';
import { loadRepoAgent } from '../config';
import { gc } from '../snapshots';

export function register(program: Command): void {
  program
    .command('gc')
    .description('remove old snapshots, keeping the newest K and always the live one')
    .option('--keep <k>', 'snapshots to keep (default from config "keep", 5)')
    .option('--json', 'print one JSON document')
    .action(async (opts: { keep?: string; json?: boolean }, cmd: Command) => {
      const ctx = contextFor(cmd, 'repo-agent');
      if (opts.keep !== undefined && !/^[1-9]\d*$/.test(opts.keep)) throw new UsageError(`--keep ${opts.keep}: must be a whole number of at least 1`);
      const { store, config } = loadRepoAgent(ctx, { keep: opts.keep });
      const { removed, kept } = await gc(store, config.keep, config.lockTimeout);
      if (opts.json) {
        ctx.stdout(JSON.stringify({ removed, kept }, null, 2));
        return;
      }
      ctx.logger.info(`gc removed ${removed.length} snapshot(s)`, { removed });
      ctx.stdout(removed.length ? `removed: ${removed.join(' ')}` : 'nothing to remove');
    });
}
