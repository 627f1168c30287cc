import { contextFor, UsageError, type Command } from '@pkgfleet/shared';
import { loadRepoAgent } from '../config';
import { startHttpPart, stopParts, type ServePart } from '../daemon/serve';

export function register(program: Command): void {
  program
    .command('serve')
    .description('the repo-agent service; with --http, serves the live snapshot over HTTP itself')
    .option('--http <addr>', 'serve the live snapshot on HOST:PORT (port 0: any free port)')
    .action(async (opts: { http?: string }, cmd: Command) => {
      const ctx = contextFor(cmd, 'repo-agent');
      const { store, config } = loadRepoAgent(ctx, { http: opts.http });
      await store.init();
      const parts: ServePart[] = [];
      try {
        const http = await startHttpPart({ currentLink: store.currentLink, http: config.http, logger: ctx.logger });
        if (http) parts.push(http);
        if (parts.length === 0) throw new UsageError('nothing to serve', 'pass --http HOST:PORT (or set "http" in the config)');
      } catch (err) {
        await stopParts(parts);
        throw err;
      }
      // First stdout line, once connections are accepted: scripts wait for it (CLI.md).
      ctx.stdout(`listening on ${parts[0]!.address}`);
      for (const p of parts) ctx.logger.info(`${p.name} listening on ${p.address}`, { root: store.currentLink, live: (await store.live()) ?? null });
      await new Promise<void>((resolve) => {
        if (ctx.signal.aborted) resolve();
        else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      await stopParts(parts);
    });
}
