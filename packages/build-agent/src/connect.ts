import { ClientConnection, readCredentialFile, type CommandContext, type CredentialFile } from '@pkgfleet/shared';
import type { BuildAgentConfig } from './config';

/** Connect to the orchestrator named in the credential file, authenticated by it. */
export function orchestratorConnector(ctx: CommandContext, config: BuildAgentConfig, credentialPath: string): { credential: CredentialFile; connect: () => Promise<ClientConnection> } {
  const credential = readCredentialFile(credentialPath);
  return {
    credential,
    connect: () => ClientConnection.connect(credential, { agent: 'build-agent', logger: ctx.logger, connectTimeoutMs: config.connectTimeout }),
  };
}
