import { startServer, type Logger, type RunningServer } from '@pkgfleet/shared';
import type { Store } from '../store/store';
import { trustStore } from '../commands/credentials';
import { createDeploySession, type DeploySessionOptions } from './deploy-session';

/** The deploy service: TLS-PSK WebSocket, deploy credentials only, one deploy session per connection. */
export async function startDeployServer(opts: { host: string; port: number; stateDir: string; store: Store; logger: Logger; deploy: DeploySessionOptions; maxMessageBytes?: number }): Promise<RunningServer> {
  const store = trustStore(opts.stateDir);
  await store.init();
  return startServer({
    host: opts.host,
    port: opts.port,
    store,
    roles: ['deploy'],
    logger: opts.logger,
    limits: { maxMessageBytes: opts.maxMessageBytes ?? 64 * 1024 * 1024 },
    createSession: (conn) => createDeploySession(conn, opts.store, opts.deploy),
  });
}
