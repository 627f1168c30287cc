import { contextFor, type Command } from '@pkgfleet/shared';
import { loadRepoAgent } from '../config';
import { activateSnapshot, rollback } from '../snapshots';

export function register(program: Command): void {
  program
    .command('activate')
    .description('make snapshot ID live (one symlink swap)')
    .argument('<id>', 'snapshot id (see `repo-agent list`)')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const ctx = contextFor(cmd, 'repo-agent');
      const { store, config } = loadRepoAgent(ctx);
      const { previous } = await activateSnapshot(store, id, config.lockTimeout);
      ctx.logger.info(`snapshot ${id} is live`, { previous });
      ctx.stdout(`live: ${id} (was ${previous ?? 'none'})`);
    });

  program
    .command('rollback')
    .description('make the previous snapshot live again (or --to ID), in one symlink swap')
    .option('--to <id>', 'the snapshot to go back to (default: the one made before the live one)')
    .action(async (opts: { to?: string }, cmd: Command) => {
      const ctx = contextFor(cmd, 'repo-agent');
      const { store, config } = loadRepoAgent(ctx);
      const { from, to } = await rollback(store, opts.to, config.lockTimeout);
      ctx.logger.info(`rolled back to ${to}`, { from });
      ctx.stdout(`live: ${to} (was ${from ?? 'none'})`);
    });
}
