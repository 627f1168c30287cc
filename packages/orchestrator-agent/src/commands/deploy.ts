import { contextFor, formatBytes, type Command } from '@pkgfleet/shared';

export function register(program: Command): void {
  program
    .command('deploy')
    .description('send a repository tree to the repo server and make it live (only what it lacks travels)')
    .requiredOption('--root <dir>', 'repository root written by `repo publish` (its current tree is sent), or a tree')
    .option('--credential <file>', 'deploy credential from `repo-agent credentials issue` (default from config)')
    .option('--no-activate', 'store and verify the snapshot on the repo server without making it live')
    .action(async (opts: { root: string; credential?: string; activate: boolean }, cmd: Command) => {
      const ctx = contextFor(cmd, 'orchestrator-agent');
      const [{ loadOrchestratorConfig }, { deployTree }] = await Promise.all([import('../config'), import('../deploy/client')]);
      const { config } = loadOrchestratorConfig(ctx, { deployCredential: opts.credential });
      const r = await deployTree(opts.root, { credentialPath: config.deployCredential, activate: opts.activate, logger: ctx.logger, signal: ctx.signal });
      const d = r.done;
      ctx.stdout(`deployed snapshot ${d.id} to ${r.url}: ${d.files} files, ${d.filesReceived} sent (${formatBytes(r.bytesSent)} on the wire), ${d.filesLinked} already there${d.activated ? `; live (was ${d.previous ?? 'none'})` : '; not activated'}`);
    });
}
