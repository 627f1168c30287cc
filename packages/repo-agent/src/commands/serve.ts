import { readFileSync } from 'node:fs';
import { authority, contextFor, DEFAULT_MANIFEST_LIMITS, parseListen, UsageError, type Command } from '@pkgfleet/shared';
import { loadRepoAgent, loadTrustedKey } from '../config';
import { startDeployServer } from '../daemon/deploy-server';
import { deploysSettled } from '../deploy/receive';

function configSets(file: string, key: string): boolean {
  try {
    return key in (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>);
  } catch {
    return false;
  }
}
import { startHttpPart, stopParts, type ServePart } from '../daemon/serve';

export function register(program: Command): void {
  program
    .command('serve')
    .description('the repo-agent service; with --http, serves the live snapshot over HTTP itself')
    .option('--listen <addr>', 'receive deploys from orchestrators on HOST:PORT (default: "listen" of the config, if set there)')
    .option('--http <addr>', 'serve the live snapshot on HOST:PORT (port 0: any free port)')
    .action(async (opts: { listen?: string; http?: string }, cmd: Command) => {
      const ctx = contextFor(cmd, 'repo-agent');
      (await import('@pkgfleet/shared/memory/relief')).tuneHeapForStreaming();
      const { store, config, stateDir, configFile } = loadRepoAgent(ctx, { http: opts.http, listen: opts.listen });
      await store.init();
      const parts: ServePart[] = [];
      try {
        // The deploy service runs when an address is given explicitly (flag, env or config file),
        // not on the schema's default: an HTTP-only server opens no deploy port.
        const listen = opts.listen ?? process.env.PKGFLEET_LISTEN ?? (configSets(configFile, 'listen') ? config.listen : undefined);
        if (listen) {
          const { host, port } = parseListen(listen, '--listen');
          const trustedKey = await loadTrustedKey(config, ctx.logger);
          const deploy = await startDeployServer({
            host, port, stateDir, store, logger: ctx.logger.child({ part: 'deploy' }),
            deploy: { trustedKey, graceMs: config.gracePeriod, lockTimeoutMs: config.lockTimeout, limits: { ...DEFAULT_MANIFEST_LIMITS, maxEntries: config.maxFiles, maxFileSize: config.maxFileSize } },
          });
          parts.push({
            name: 'deploy',
            address: authority(deploy.host, deploy.port),
            close: async () => {
              await deploy.close();
              // A spare tree being prepared after the last deploy holds the lock: let it finish.
              await deploysSettled();
            },
          });
        }
        const http = await startHttpPart({ currentLink: store.currentLink, http: config.http, logger: ctx.logger });
        if (http) parts.push(http);
        if (parts.length === 0) throw new UsageError('nothing to serve', 'pass --listen HOST:PORT for deploys and/or --http HOST:PORT (or set them in the config)');
      } catch (err) {
        await stopParts(parts);
        throw err;
      }
      // First stdout line, once connections are accepted: scripts wait for it (CLI.md).
      ctx.stdout(`listening on ${parts[0]!.address}`);
      for (const p of parts) ctx.logger.info(`${p.name} listening on ${p.address}`, { root: store.currentLink, live: (await store.live().catch(() => undefined)) ?? null });
      await new Promise<void>((resolve) => {
        if (ctx.signal.aborted) resolve();
        else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      await stopParts(parts);
    });
}
