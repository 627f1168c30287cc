import { contextFor, type Command } from '@pkgfleet/shared';

export function register(program: Command): void {
  program
    .command('serve')
    .description('run the service that receives artifacts and registrations from build agents (systemd)')
    .option('--listen <addr>', 'address to listen on (HOST:PORT)')
    .action(async (opts: { listen?: string }, cmd: Command) => {
      const ctx = contextFor(cmd, 'orchestrator-agent');
      (await import('@pkgfleet/shared/memory/relief')).tuneHeapForStreaming();
      const [{ loadOrchestratorConfig }, { createBuildSession }, { Registrations }, { orchestratorPaths }] = await Promise.all([import('../config'), import('../daemon/build-session'), import('../daemon/registrations'), import('../paths')]);
      const [{ authority, parseListen }, { CredentialStore }, { IncomingStore }, { startServer }] = await Promise.all([
        import('@pkgfleet/shared/config/agent'), import('@pkgfleet/shared/transport/credentials'), import('@pkgfleet/shared/transfer/receiver'), import('@pkgfleet/shared/transport/server'),
      ]);
      const { config, stateDir } = loadOrchestratorConfig(ctx, { listen: opts.listen });
      const paths = orchestratorPaths(stateDir);
      const store = new CredentialStore(paths.trust);
      store.secretFor('check-0000000000000000'); // fails early with a clear message if init was not run
      const incoming = new IncomingStore(paths.incoming);
      const registrations = new Registrations(paths.registrations);
      const { host, port } = parseListen(config.listen);
      const server = await startServer({
        host,
        port,
        store,
        roles: ['build'],
        logger: ctx.logger,
        limits: { maxMessageBytes: config.maxMessageBytes, maxFileSize: config.maxFileSize, maxFiles: config.maxFiles, chunkSize: config.chunkSize, heartbeatMs: config.heartbeat },
        createSession: (conn) => createBuildSession(conn, incoming, registrations),
      });
      ctx.stdout(`listening on ${authority(server.host, server.port)}`);
      ctx.logger.info('orchestrator serving', { listen: authority(server.host, server.port), stateDir });
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
      await server.close();
    });
}
