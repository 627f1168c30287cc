import { readFileSync } from 'node:fs';
import { Command, Option, UsageError, contextFor, formatDuration, parseDuration, type CommandContext } from '@pkgfleet/shared';
import type { IssueCredential, WaitForRegistration } from '../machines/create';
import type { ProviderFactory } from '../machines/factory';
import type { MachinesConfig } from '../machines/settings';
import type { Machine, ProviderName } from '../providers/provider';

/** What other parts of the orchestrator plug in (credentials, registrations, the local provider). */
export interface MachinesDeps {
  issueCredential?: IssueCredential;
  waitForRegistration?: WaitForRegistration;
  providers?: Partial<Record<ProviderName, ProviderFactory>>;
  /** The same, bound to a command's context (config, state dir); wins over the plain ones. */
  services?: (ctx: CommandContext) => { issueCredential?: IssueCredential; waitForRegistration?: WaitForRegistration; revoke?: (release: string) => Promise<number> };
  /** Tests: a context with captured stdout. */
  context?: (cmd: Command) => CommandContext;
  /** More of the same, loaded when a command runs (import()), not at start-up; wins over the ones above. */
  load?: () => Promise<Omit<MachinesDeps, 'load' | 'context'>>;
}

/** The modules the actions use, loaded when one runs (import()), not at start-up: see cli.ts. */
async function actionModules() {
  const [config, create, factory, reap, userData, tags] = await Promise.all([
    import('../config'), import('../machines/create'), import('../machines/factory'), import('../machines/reap'), import('../machines/user-data'), import('../providers/tags'),
  ]);
  return { ...config, ...create, ...factory, ...reap, ...userData, ...tags };
}
type Loaded = { m: Awaited<ReturnType<typeof actionModules>>; d: MachinesDeps };

export function register(program: Command, deps: MachinesDeps = {}): void {
  const ctxOf = (cmd: Command) => (deps.context ?? ((c: Command) => contextFor(c, 'orchestrator-agent')))(cmd);
  let loading: Promise<Loaded> | undefined;
  const prepare = (): Promise<Loaded> => (loading ??= Promise.all([actionModules(), deps.load?.()]).then(([m, more]) => ({ m, d: { ...deps, ...more } })));
  const svcOf = ({ d }: Loaded, ctx: CommandContext) => ({ issueCredential: d.issueCredential, waitForRegistration: d.waitForRegistration, ...d.services?.(ctx) });
  const load = ({ m }: Loaded, ctx: CommandContext, flags: Record<string, unknown> = {}): MachinesConfig => m.loadOrchestratorConfig(ctx, flags).config;
  const providerOption = () => new Option('--provider <name>', 'digitalocean or local (default: machinesProvider in the config, else local)').choices(['digitalocean', 'local']);
  const providerFor = (x: Loaded, ctx: CommandContext, provider: string | undefined) => {
    const config = load(x, ctx, { machinesProvider: provider });
    return { config, provider: x.m.makeProvider(config.machinesProvider, ctx, config, x.d.providers) };
  };

  const machines = program.command('machines').description('build machines of a release: create, list, delete, reap');

  machines
    .command('create')
    .description('create one build machine per target (idempotent: existing ones are reused)')
    .requiredOption('--release <release>', 'release the machines build')
    .requiredOption('--targets <list>', 'comma-separated targets, e.g. amd64-deb,arm64-deb,amd64-rpm')
    .addOption(providerOption())
    .option('--wait', 'return only when every build-agent has registered')
    .option('--timeout <duration>', 'how long --wait waits for registrations (default machinesRegisterTimeout)')
    .option('--executable <file>', 'build-agent to upload by SSH when the image lacks it (needs machinesSshKeyFile)')
    .action(async (opts: { release: string; targets: string; provider?: string; wait?: boolean; timeout?: string; executable?: string }, cmd: Command) => {
      const ctx = ctxOf(cmd);
      const x = await prepare();
      const { m: mod } = x;
      mod.assertRelease(opts.release);
      const targets = mod.parseTargets(opts.targets);
      const svc = svcOf(x, ctx);
      if (!svc.issueCredential) throw new UsageError('machines create: credential issuing is not wired into this build', 'use a build of orchestrator-agent with the credentials service');
      if (opts.wait && !svc.waitForRegistration) throw new UsageError('machines create --wait: the registration service is not wired into this build');
      const { config, provider } = providerFor(x, ctx, opts.provider);
      const ssh = mod.sshAccess(config, opts.executable);
      if (opts.executable && !ssh) throw new UsageError('--executable needs machinesSshKeyFile in the config (the key to reach the machines by SSH)');
      const list = await mod.createMachines({
        provider,
        release: opts.release,
        targets,
        issueCredential: svc.issueCredential,
        readyTimeoutMs: config.machinesReadyTimeout,
        wait: opts.wait ? { waitForRegistration: svc.waitForRegistration!, timeoutMs: opts.timeout ? parseDuration(opts.timeout, '--timeout') : config.machinesRegisterTimeout } : undefined,
        ssh,
        logger: ctx.logger,
        signal: ctx.signal,
      });
      for (const m of list) ctx.stdout(`${m.target}\t${m.name}\t${m.privateAddress ?? '-'}\t${m.status}`);
    });

  machines
    .command('delete')
    .description('delete the machines of a release, or every pkgfleet machine; idempotent')
    .option('--release <release>', 'the release whose machines go')
    .option('--all', 'every machine tagged pkgfleet (never others)')
    .addOption(providerOption())
    .action(async (opts: { release?: string; all?: boolean; provider?: string }, cmd: Command) => {
      const ctx = ctxOf(cmd);
      const x = await prepare();
      const { m: mod } = x;
      if (!!opts.release === !!opts.all) throw new UsageError('machines delete needs exactly one of --release R or --all');
      if (opts.release) mod.assertRelease(opts.release);
      const { provider } = providerFor(x, ctx, opts.provider);
      const n = opts.release ? await provider.deleteRelease(opts.release, ctx.signal) : await provider.deleteAll(ctx.signal);
      // A deleted machine's credential is of no use to anyone any more.
      const revoke = svcOf(x, ctx).revoke;
      if (revoke && opts.release) await revoke(opts.release);
      ctx.stdout(`deleted ${n} machine${n === 1 ? '' : 's'}${opts.release ? ` of release ${opts.release}` : ''}`);
    });

  machines
    .command('list')
    .description('pkgfleet machines, of one release or all')
    .option('--release <release>', 'only this release')
    .option('--json', 'one JSON document on stdout')
    .addOption(providerOption())
    .action(async (opts: { release?: string; json?: boolean; provider?: string }, cmd: Command) => {
      const ctx = ctxOf(cmd);
      const x = await prepare();
      const { m: mod } = x;
      if (opts.release) mod.assertRelease(opts.release);
      const { provider } = providerFor(x, ctx, opts.provider);
      const list = await provider.list(opts.release ? { release: opts.release } : {});
      list.sort((a, b) => a.release.localeCompare(b.release) || a.target.localeCompare(b.target));
      if (opts.json) {
        ctx.stdout(JSON.stringify({ provider: provider.name, machines: list.map((m) => ({ ...m, createdAt: m.createdAt.toISOString() })) }, null, 2));
        return;
      }
      ctx.stdout(table(list, Date.now()));
    });

  machines
    .command('reap')
    .description('delete pkgfleet machines older than a duration (left behind by a crashed run)')
    .requiredOption('--older-than <duration>', 'age, e.g. 6h')
    .option('--dry-run', 'only say what would be deleted')
    .addOption(providerOption())
    .action(async (opts: { olderThan: string; dryRun?: boolean; provider?: string }, cmd: Command) => {
      const ctx = ctxOf(cmd);
      const x = await prepare();
      const { m: mod } = x;
      const olderThanMs = parseDuration(opts.olderThan, '--older-than');
      const { provider } = providerFor(x, ctx, opts.provider);
      const reaped = await mod.reapMachines(provider, { olderThanMs, logger: ctx.logger, signal: ctx.signal, ...(opts.dryRun ? { dryRun: true } : {}) });
      for (const m of reaped) ctx.stdout(`${opts.dryRun ? 'would delete' : 'deleted'}\t${m.name}\t${m.id}\t${m.createdAt.toISOString()}`);
      ctx.stdout(`${opts.dryRun ? 'would reap' : 'reaped'} ${reaped.length} machine${reaped.length === 1 ? '' : 's'} older than ${formatDuration(olderThanMs)}`);
    });

  machines
    .command('user-data')
    .description('print the cloud-init user-data a build machine would get')
    .requiredOption('--release <release>', 'release')
    .requiredOption('--target <target>', 'target, e.g. amd64-deb')
    .option('--credential <file>', 'embed this credential file (default: issue a new one)')
    .action(async (opts: { release: string; target: string; credential?: string }, cmd: Command) => {
      const ctx = ctxOf(cmd);
      const x = await prepare();
      const { m: mod } = x;
      mod.assertRelease(opts.release);
      mod.assertTarget(opts.target);
      const config = load(x, ctx);
      let credential: string;
      if (opts.credential) credential = readFileSync(opts.credential, 'utf8');
      else if (svcOf(x, ctx).issueCredential) credential = await svcOf(x, ctx).issueCredential!(opts.release, opts.target);
      else throw new UsageError('machines user-data needs --credential FILE in this build', 'make one with `orchestrator-agent credentials issue --release R --target T --out FILE`');
      ctx.stdout(mod.renderUserData({ release: opts.release, target: opts.target, credential, ...mod.userDataSettings(config) }).replace(/\n$/, ''));
    });
}

function table(list: Machine[], now: number): string {
  const rows = [['RELEASE', 'TARGET', 'NAME', 'STATUS', 'AGE', 'ADDRESS', 'ID']];
  for (const m of list) {
    const age = Math.max(0, Math.round((now - m.createdAt.getTime()) / 60_000));
    rows.push([m.release, m.target, m.name, m.status, age >= 120 ? `${Math.floor(age / 60)}h` : `${age}m`, m.privateAddress ?? '-', m.id]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
