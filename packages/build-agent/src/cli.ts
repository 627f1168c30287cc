import { createProgram, type Command } from '@pkgfleet/shared';

/** The build-agent program: one file per subcommand in commands/, registered here. */
export function buildProgram(): Command {
  const program = createProgram('build-agent', 'pkgfleet build machine agent: pushes built packages to the orchestrator');
  return program;
}
