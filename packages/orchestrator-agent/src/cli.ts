import { createProgram, type Command } from '@pkgfleet/shared';
import { register as registerInit } from './commands/init';
import { register as registerCredentials } from './commands/credentials';
import { register as registerServe } from './commands/serve';
import { register as registerArtifacts } from './commands/artifacts';
import { register as registerKeys } from './commands/keys';
import { register as registerRepoPublish } from './commands/repo-publish';
import { register as registerMachines } from './commands/machines';
import { register as registerDeploy } from './commands/deploy';
import { register as registerPublish } from './commands/publish';
import { register as registerRelease } from './commands/release';

/**
 * The orchestrator-agent program: one file per subcommand in commands/, registered here.
 * Start-up only defines the commands: each action loads the modules it needs with import()
 * when it runs, so `--version`, `--help` and every command pay only for what they use
 * (the bundle keeps those modules, each initialized on first import).
 */
export function buildProgram(): Command {
  const program = createProgram('orchestrator-agent', 'pkgfleet orchestrator: receives artifacts, builds and signs apt and yum repositories, deploys them');
  registerInit(program);
  registerCredentials(program);
  registerServe(program);
  registerArtifacts(program);
  registerKeys(program);
  registerRepoPublish(program);
  registerMachines(program, {
    load: async () => {
      const { localProviderFactory, machineServices } = await import('./machines/services');
      return { services: machineServices, providers: { local: localProviderFactory } };
    },
  });
  registerDeploy(program);
  registerPublish(program);
  registerRelease(program);
  return program;
}
