import { mkdir } from 'node:fs/promises';
import { contextFor, type Command } from '@pkgfleet/shared';

export function register(program: Command): void {
  program
    .command('init')
    .description('create the state dir, trust store (TLS pre-shared key master) and config; idempotent')
    .option('--listen <addr>', 'address the service will listen on (HOST:PORT)')
    .option('--public-url <url>', 'wss:// URL build machines use to reach this orchestrator')
    .action(async (opts: { listen?: string; publicUrl?: string }, cmd: Command) => {
      const ctx = contextFor(cmd, 'orchestrator-agent');
      const [{ loadOrchestratorConfig }, { orchestratorPaths }, { CredentialStore }, { parseListen, authority, writeAgentConfig }] = await Promise.all([
        import('../config'), import('../paths'), import('@pkgfleet/shared/transport/credentials'), import('@pkgfleet/shared/config/agent'),
      ]);
      const { config, stateDir, configFile } = loadOrchestratorConfig(ctx, { listen: opts.listen, publicUrl: opts.publicUrl });
      const listen = parseListen(config.listen);
      const publicUrl = config.publicUrl ?? `wss://${authority(listen.host === '0.0.0.0' || listen.host === '::' ? '127.0.0.1' : listen.host, listen.port)}`;
      const paths = orchestratorPaths(stateDir);
      for (const dir of [paths.stateDir, paths.incoming, paths.registrations]) await mkdir(dir, { recursive: true, mode: 0o750 });
      const created = await new CredentialStore(paths.trust).init();
      await writeAgentConfig(configFile, { stateDir, listen: config.listen, publicUrl });
      ctx.logger.info(created ? 'initialized orchestrator' : 'orchestrator already initialized; config updated', { stateDir, config: configFile, publicUrl });
      ctx.stdout(`${created ? 'initialized' : 'already initialized'}: state ${stateDir}, config ${configFile}, public URL ${publicUrl}`);
    });
}
