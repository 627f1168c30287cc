import { resolve } from 'node:path';
import { contextFor, type Command } from '@pkgfleet/shared';
import { loadRepoAgent, loadTrustedKey } from '../config';
import { deployFromDirectory } from '../deploy/local';

export function register(program: Command): void {
  program
    .command('import')
    .description('deploy a repository tree from a local directory (no network): same checks as a deploy, then swap')
    .requiredOption('--from <dir>', 'a repository tree, or a root written by `orchestrator-agent repo publish` (its current tree is used)')
    .option('--id <id>', 'snapshot id (default: time-based)')
    .option('--no-activate', 'commit the snapshot without making it live')
    .option('--json', 'print one JSON document')
    .action(async (opts: { from: string; id?: string; activate: boolean; json?: boolean }, cmd: Command) => {
      const ctx = contextFor(cmd, 'repo-agent');
      const { store, config } = loadRepoAgent(ctx);
      const trustedKey = await loadTrustedKey(config, ctx.logger);
      const r = await deployFromDirectory(store, resolve(opts.from), {
        trustedKey,
        graceMs: config.gracePeriod,
        lockTimeoutMs: config.lockTimeout,
        limits: { maxEntries: config.maxFiles, maxFileSize: config.maxFileSize, maxPathLength: 1024 },
        activate: opts.activate,
        logger: ctx.logger,
        signal: ctx.signal,
        ...(opts.id ? { id: opts.id } : {}),
      });
      if (opts.json) {
        ctx.stdout(JSON.stringify(r, null, 2));
        return;
      }
      const c = r.counter;
      ctx.stdout(`snapshot ${r.id} ${r.activated ? 'live' : 'committed'}: ${r.files} files, ${c.filesReceived} new (${c.bytesReceived} bytes), ${c.filesLinked} linked, ${c.filesCarried} kept for the grace period`);
    });
}
