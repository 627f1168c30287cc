import { hostname } from 'node:os';
import { contextFor, VERSION, type ClientConnection, type Command } from '@pkgfleet/shared';

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });

export function register(program: Command): void {
  program
    .command('serve')
    .description('systemd service: register this machine with the orchestrator and keep a heartbeat')
    .option('--credential <file>', 'credential file (default from config / $PKGFLEET_CREDENTIAL)')
    .action(async (opts: { credential?: string }, cmd: Command) => {
      const ctx = contextFor(cmd, 'build-agent');
      // Loaded when the command runs, not at start-up (see orchestrator-agent's cli.ts).
      const [{ loadBuildAgentConfig }, { orchestratorConnector }, { isRetryable }] = await Promise.all([import('../config'), import('../connect'), import('@pkgfleet/shared/transfer/sender')]);
      const { config } = loadBuildAgentConfig(ctx, { credential: opts.credential });
      const { credential, connect } = orchestratorConnector(ctx, config, config.credential);
      if (credential.role !== 'build' || !credential.release || !credential.target) throw new Error(`credential ${credential.id} is not a build credential`);
      const release = credential.release;
      const target = credential.target;
      let delay = 1000;
      let announced = false;
      while (!ctx.signal.aborted) {
        let conn: ClientConnection | undefined;
        try {
          conn = await connect();
          conn.send({ type: 'register', release, target, hostname: hostname(), agentVersion: VERSION });
          await conn.next(['registered'], config.replyTimeout, 'the registration answer');
          ctx.logger.info('registered with the orchestrator', { release, target, orchestrator: credential.url });
          if (!announced) {
            ctx.stdout(`registered ${release} ${target} with ${credential.url}`);
            announced = true;
          }
          delay = 1000;
          // Heartbeats: the transport pings both ways; an answer that never comes ends next().
          let seq = 0;
          while (!ctx.signal.aborted) {
            conn.send({ type: 'heartbeat', seq: ++seq });
            await Promise.race([conn.next(['heartbeat.ack'], 3 * conn.welcome.limits.heartbeatMs, 'a heartbeat answer'), sleep(conn.welcome.limits.heartbeatMs * 10, ctx.signal)]);
            await sleep(conn.welcome.limits.heartbeatMs, ctx.signal);
          }
          conn.close('service stopping');
        } catch (err) {
          conn?.close('error');
          if (!isRetryable(err)) throw err;
          ctx.logger.warn(`lost the orchestrator; reconnecting in ${Math.round(delay / 1000)} s`, { reason: (err as Error).message });
          await sleep(delay, ctx.signal);
          delay = Math.min(delay * 2, 30_000);
        }
      }
    });
}
