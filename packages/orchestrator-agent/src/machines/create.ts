import { TimeoutError, UsageError, formatDuration, type Logger } from '@pkgfleet/shared';
import type { Machine, Provider } from '../providers/provider';
import { assertTarget } from '../providers/tags';
import { bootstrapMachine, diagnoseMachine, type RemoteCommands } from './bootstrap';
import type { SshTarget } from './ssh';

/** Mints the credential file content for one machine of one release (`credentials issue`). */
export type IssueCredential = (release: string, target: string) => Promise<string>;

/**
 * Resolves when every target's build-agent registered, or at `deadline` (epoch ms) with the
 * targets still missing. Wired by the orchestrator's registration service.
 */
export type WaitForRegistration = (release: string, targets: string[], deadline: number, signal?: AbortSignal) => Promise<{ missing: string[] }>;

export interface SshAccess {
  /** How to reach a machine (its private address); undefined = no SSH for it. */
  targetFor: (m: Machine) => SshTarget | undefined;
  /** Upload this build-agent when the image lacks it (no download URL in the user-data). */
  executable?: string | undefined;
  remotePath?: string;
  commands?: RemoteCommands;
}

export interface CreateMachinesOptions {
  provider: Provider;
  release: string;
  targets: string[];
  issueCredential: IssueCredential;
  readyTimeoutMs: number;
  /** With --wait: until every build-agent registered. */
  wait?: { waitForRegistration: WaitForRegistration; timeoutMs: number } | undefined;
  ssh?: SshAccess | undefined;
  logger: Logger;
  signal?: AbortSignal;
  now?: () => number;
}

export function parseTargets(list: string): string[] {
  const targets = [...new Set(list.split(',').map((t) => t.trim()).filter(Boolean))];
  if (targets.length === 0) throw new UsageError('--targets names no target', 'e.g. --targets amd64-deb,arm64-deb,amd64-rpm');
  targets.forEach(assertTarget);
  return targets;
}

/**
 * Create (or reuse) one machine per target, wait until they are up, bootstrap them by SSH when
 * the executable must be uploaded, and with `wait` until every build-agent has registered. A
 * target that never registers is named in the error together with what its machine says.
 */
export async function createMachines(o: CreateMachinesOptions): Promise<Machine[]> {
  const now = o.now ?? Date.now;
  const created = await o.provider.create({
    release: o.release,
    targets: o.targets,
    bootstrap: async (target) => ({ credential: await o.issueCredential(o.release, target) }),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  if (created.reused.length) o.logger.info('machines already there, reused', { release: o.release, targets: created.reused });
  const machines = await o.provider.waitReady(o.release, o.targets, now() + o.readyTimeoutMs, o.signal);
  o.logger.info('machines up', { release: o.release, machines: machines.map((m) => `${m.target}=${m.privateAddress ?? m.id}`) });

  if (o.ssh?.executable) {
    const ssh = o.ssh;
    const results = await Promise.allSettled(
      machines.map(async (m) => {
        const t = ssh.targetFor(m);
        if (!t) throw new UsageError(`machine ${m.name} has no private address to reach by SSH`, 'put the machines in the orchestrator\'s VPC (dropletVpcUuid)');
        await bootstrapMachine(t, {
          executable: ssh.executable,
          ...(ssh.remotePath ? { remotePath: ssh.remotePath } : {}),
          cloudInitTimeoutMs: o.readyTimeoutMs,
          ...(ssh.commands ? { commands: ssh.commands } : {}),
          logger: o.logger.child({ target: m.target }),
          ...(o.signal ? { signal: o.signal } : {}),
        });
      }),
    );
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${machines[i]!.target}: ${(r.reason as Error).message}`] : []));
    if (failed.length) {
      throw new TimeoutError('E_MACHINES_BOOTSTRAP', `bootstrapping the machines of release ${o.release} failed:\n${failed.join('\n')}`, `fix the cause, then run \`machines create\` again (it reuses the machines) or \`machines delete --release ${o.release}\``);
    }
  }

  if (o.wait) {
    const { missing } = await o.wait.waitForRegistration(o.release, o.targets, now() + o.wait.timeoutMs, o.signal);
    if (missing.length) {
      const reasons = await Promise.all(
        missing.map(async (target) => {
          const m = machines.find((x) => x.target === target);
          if (!m) return `${target}: no machine`;
          const where = `${m.name} (id ${m.id}${m.privateAddress ? `, ${m.privateAddress}` : ''}, ${m.status})`;
          const t = o.ssh?.targetFor(m);
          if (!t) return `${target}: ${where} is up but its build-agent never connected; no SSH key configured (machinesSshKeyFile) to look inside`;
          const diag = await diagnoseMachine(t, { ...(o.ssh?.commands ? { commands: o.ssh.commands } : {}) });
          return `${target}: ${where} is up but its build-agent never connected. What the machine says:\n${diag}`;
        }),
      );
      throw new TimeoutError(
        'E_MACHINES_NOT_REGISTERED',
        `build machines of release ${o.release} did not register within ${formatDuration(o.wait.timeoutMs)}: ${missing.join(', ')}\n${reasons.join('\n')}`,
        `the machines are left running for inspection: \`orchestrator-agent machines delete --release ${o.release}\` removes them`,
      );
    }
    o.logger.info('every build-agent registered', { release: o.release, targets: o.targets });
  }
  return machines;
}
