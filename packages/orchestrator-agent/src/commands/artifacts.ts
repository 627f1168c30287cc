import { contextFor, formatBytes, type Command } from '@pkgfleet/shared';

export function register(program: Command): void {
  const artifacts = program.command('artifacts').description('artifacts received from build machines');
  artifacts
    .command('list')
    .description('what has arrived, per release and target (complete files only)')
    .option('--release <release>', 'only this release')
    .option('--json', 'print one JSON document')
    .action(async (opts: { release?: string; json?: boolean }, cmd: Command) => {
      const ctx = contextFor(cmd, 'orchestrator-agent');
      const [{ loadOrchestratorConfig }, { orchestratorPaths }, { IncomingStore }] = await Promise.all([import('../config'), import('../paths'), import('@pkgfleet/shared/transfer/receiver')]);
      const { stateDir } = loadOrchestratorConfig(ctx);
      const list = await new IncomingStore(orchestratorPaths(stateDir).incoming).list(opts.release);
      if (opts.json) return ctx.stdout(JSON.stringify({ releases: list }, null, 2));
      if (list.length === 0) return ctx.stdout(opts.release ? `nothing has arrived for release ${opts.release}` : 'nothing has arrived');
      for (const m of list) {
        ctx.stdout(`${m.release} ${m.target}: ${m.files.length} file(s)`);
        for (const f of m.files) ctx.stdout(`  ${f.name}  ${formatBytes(f.size)}  sha256:${f.sha256}  ${f.receivedAt}  by ${f.pushedBy}`);
      }
    });
}
