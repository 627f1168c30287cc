import { createProgram, type Command } from '@pkgfleet/shared';
import { register as registerInit } from './commands/init';
import { register as registerServe } from './commands/serve';
import { register as registerList } from './commands/list';
import { register as registerActivate } from './commands/activate';
import { register as registerGc } from './commands/gc';
import { register as registerVerify } from './commands/verify';
import { register as registerImport } from './commands/import';
import { register as registerCredentials } from './commands/credentials';

/** The repo-agent program: one file per subcommand in commands/, registered here. */
export function buildProgram(): Command {
  const program = createProgram('repo-agent', 'pkgfleet repo server agent: receives snapshots, verifies them, swaps the web root atomically');
  registerInit(program);
  registerServe(program);
  registerList(program);
  registerActivate(program);
  registerGc(program);
  registerVerify(program);
  registerImport(program);
  registerCredentials(program);
  return program;
}
