import { connect as tcpConnect } from 'node:net';
import { contextFor, describeError, type Command, type CredentialFile } from '@pkgfleet/shared';

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

function tcpReachable(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const sock = tcpConnect({ host, port });
    const t = setTimeout(() => {
      sock.destroy();
      resolve(`no answer within ${timeoutMs} ms`);
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(t);
      sock.destroy();
      resolve(undefined);
    });
    sock.once('error', (err) => {
      clearTimeout(t);
      resolve((err as NodeJS.ErrnoException).code ?? err.message);
    });
  });
}

export function register(program: Command): void {
  program
    .command('doctor')
    .description('check config, credential, reachability and authentication; say what is wrong')
    .option('--credential <file>', 'credential file (default from config / $PKGFLEET_CREDENTIAL)')
    .option('--json', 'print one JSON document')
    .action(async (opts: { credential?: string; json?: boolean }, cmd: Command) => {
      const ctx = contextFor(cmd, 'build-agent');
      // Loaded when the command runs, not at start-up (see orchestrator-agent's cli.ts).
      const [{ loadBuildAgentConfig }, { ClientConnection }, { credentialProblem, readCredentialFile }] = await Promise.all([
        import('../config'), import('@pkgfleet/shared/transport/client'), import('@pkgfleet/shared/transport/credentials'),
      ]);
      const checks: Check[] = [];
      const add = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });
      let credentialPath = opts.credential;
      let connectTimeout = 10_000;
      try {
        const { config, configFile, file } = loadBuildAgentConfig(ctx, { credential: opts.credential });
        add('config', true, file ? `read ${file}` : `no config file at ${configFile} (flags and environment only)`);
        credentialPath = config.credential;
        connectTimeout = config.connectTimeout;
      } catch (err) {
        add('config', false, describeError(err).replace(/^error: /, ''));
      }
      let cred: CredentialFile | undefined;
      if (credentialPath) {
        try {
          cred = readCredentialFile(credentialPath);
          const problem = cred.expiresAt && Date.parse(cred.expiresAt) <= Date.now() ? `expired at ${cred.expiresAt}` : undefined;
          add('credential', !problem, problem ? `${credentialPath}: ${problem}; ask for a new one` : `${credentialPath}: ${cred.id}, ${cred.role === 'build' ? `release ${cred.release} target ${cred.target}` : cred.role}, expires ${cred.expiresAt ?? 'never'}`);
        } catch (err) {
          add('credential', false, describeError(err).replace(/^error: /, '').replace('\nhint:', ';'));
        }
      }
      if (cred) {
        const url = new URL(cred.url);
        const host = url.hostname.replace(/^\[|\]$/g, '');
        const port = Number(url.port || 443);
        const unreachable = await tcpReachable(host, port, connectTimeout);
        add('reachability', !unreachable, unreachable ? `${host}:${port}: ${unreachable}; is orchestrator-agent serve running there, and is the private network up?` : `${host}:${port} accepts connections`);
        if (!unreachable) {
          try {
            const conn = await ClientConnection.connect(cred, { agent: 'build-agent', logger: ctx.logger, connectTimeoutMs: connectTimeout });
            const w = conn.welcome;
            conn.close('doctor');
            const problem = credentialProblem({ id: w.credential.id, role: w.credential.role, issuedAt: '', ...(w.credential.expiresAt ? { expiresAt: w.credential.expiresAt } : {}) }, new Date());
            add('authentication', !problem, problem ?? `authenticated as ${w.credential.id} (protocol ${w.protocol}, server ${w.serverVersion})`);
          } catch (err) {
            add('authentication', false, describeError(err).replace(/^error: /, '').replace('\nhint:', ';'));
          }
        }
      }
      if (opts.json) ctx.stdout(JSON.stringify({ ok: checks.every((c) => c.ok), checks }, null, 2));
      else for (const c of checks) ctx.stdout(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.name}: ${c.detail}`);
      const failed = checks.filter((c) => !c.ok);
      if (failed.length) {
        process.exitCode = 1;
        throw Object.assign(new Error(`doctor found ${failed.length} problem(s): ${failed.map((c) => c.name).join(', ')}`), { code: 'E_DOCTOR' });
      }
    });
}
