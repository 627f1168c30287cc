import { join } from 'node:path';
import { CredentialStore, type CommandContext } from '@pkgfleet/shared';
import { loadOrchestratorConfig } from '../config';
import { Registrations } from '../daemon/registrations';
import { orchestratorPaths } from '../paths';
import { LocalProvider, siblingBuildAgent } from '../providers/local';
import type { IssueCredential, WaitForRegistration } from './create';
import type { ProviderFactory } from './factory';

/**
 * What `machines` needs from the rest of the orchestrator: credentials for new machines (revoked
 * with them), the registrations `build-agent serve` makes, and the local provider.
 */
export function machineServices(ctx: CommandContext): { issueCredential: IssueCredential; waitForRegistration: WaitForRegistration; revoke: (release: string) => Promise<number> } {
  const { config, stateDir } = loadOrchestratorConfig(ctx);
  const paths = orchestratorPaths(stateDir);
  const store = new CredentialStore(paths.trust);
  const registrations = new Registrations(paths.registrations);
  return {
    issueCredential: async (release, target) => {
      if (!config.publicUrl) throw new Error('no publicUrl in the orchestrator config: run `orchestrator-agent init --public-url wss://HOST:PORT`');
      const { file } = await store.issue({ role: 'build', release, target }, config.publicUrl, { ttlMs: config.machinesCredentialTtl });
      return JSON.stringify(file, null, 2) + '\n';
    },
    waitForRegistration: async (release, targets, deadline, signal) => {
      for (;;) {
        const regs = await registrations.list(release);
        const missing = targets.filter((t) => !regs.some((r) => r.target === t && r.connected));
        if (missing.length === 0 || Date.now() >= deadline || signal?.aborted) return { missing };
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    revoke: async (release) => (await store.revoke({ release })).length,
  };
}

export const localProviderFactory: ProviderFactory = (ctx) => {
  const { config, stateDir } = loadOrchestratorConfig(ctx);
  return new LocalProvider({ dir: join(stateDir, 'local-machines'), buildAgent: config.localBuildAgent ? config.localBuildAgent.split(' ') : siblingBuildAgent(), logger: ctx.logger });
};
