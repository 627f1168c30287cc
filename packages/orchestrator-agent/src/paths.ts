import { join } from 'node:path';

/** The orchestrator's state directory layout (DESIGN.md: on-disk layout). */
export function orchestratorPaths(stateDir: string) {
  return {
    stateDir,
    trust: join(stateDir, 'trust'),
    incoming: join(stateDir, 'incoming'),
    registrations: join(stateDir, 'registrations'),
    repo: join(stateDir, 'repo'),
  };
}
