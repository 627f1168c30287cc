import { createProgram, type Command } from '@pkgfleet/shared';

/** The repo-agent program: one file per subcommand in commands/, registered here. */
export function buildProgram(): Command {
  const program = createProgram('repo-agent', 'pkgfleet repo server agent: receives snapshots, verifies them, swaps the web root atomically');
  return program;
}
