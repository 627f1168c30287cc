import { createProgram, type Command } from '@pkgfleet/shared';
import { register as registerPush } from './commands/push';
import { register as registerServe } from './commands/serve';
import { register as registerDoctor } from './commands/doctor';
import { register as registerCrates } from './commands/crates';
import { register as registerPypi } from './commands/pypi';

/** The build-agent program: one file per subcommand in commands/, registered here. */
export function buildProgram(): Command {
  const program = createProgram('build-agent', 'pkgfleet build machine agent: pushes built packages to the orchestrator');
  registerPush(program);
  registerServe(program);
  registerDoctor(program);
  registerCrates(program);
  registerPypi(program);
  return program;
}
