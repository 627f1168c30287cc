import { createProgram, type Command } from '@pkgfleet/shared';

/** The orchestrator-agent program: one file per subcommand in commands/, registered here. */
export function buildProgram(): Command {
  const program = createProgram('orchestrator-agent', 'pkgfleet orchestrator: receives artifacts, builds and signs apt and yum repositories, deploys them');
  return program;
}
