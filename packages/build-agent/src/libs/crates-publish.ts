/**
 * `crates publish`: check every crate first (version against the tag, publishable, order), then
 * for each crate in dependency order: skip it if the registry has the version, wait until the
 * crates it depends on are visible in the index, run `cargo publish`, retry rate limits and
 * server errors. One failure does not stop crates that do not depend on it.
 */
import { backoffDelay, abortableSleep, PkgfleetError, UsageError, type Logger } from '@pkgfleet/shared';
import { needsPublishedDependency } from './cargo-manifest';
import type { CrateDir } from './cargo';
import { publishOrder } from './order';
import { tail, type ToolResult } from './run-tool';
import type { Outcome, Summary } from './summary';
import { releaseVersion } from './versions';

/** The outside world of a crates run: cargo and the registry API (real in the CLI, fake in unit tests). */
export interface CratesPort {
  readCrate(dir: string): Promise<CrateDir>;
  versionExists(name: string, version: string): Promise<boolean>;
  publish(crate: CrateDir): Promise<ToolResult>;
  visible(deps: ReadonlyArray<{ name: string; version: string }>, cwd: string): Promise<{ visible: boolean; output: string }>;
}

export interface CratesRunOptions {
  release: string;
  dirs: string[];
  versionCheck: boolean;
  dryRun: boolean;
  /** Registry name for messages and for checking a crate's `publish = [...]`; undefined = crates.io. */
  registry: string | undefined;
  /** How long a published dependency may take to appear in the index. */
  indexTimeoutMs: number;
  /** First index poll interval (doubles up to 10 s). */
  indexPollMs: number;
  /** Further `cargo publish` attempts after a 429/5xx/network failure. */
  publishRetries: number;
  retryBaseMs: number;
  logger: Logger;
  signal?: AbortSignal;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
}

export type PublishFailure = 'already-there' | 'retry' | 'fail';

/** What a failed `cargo publish` means, from its output (cargo's wording across versions, crates.io's errors). */
export function classifyPublishFailure(output: string): PublishFailure {
  if (/already exists on .*index|is already uploaded|crate version .* already exists/i.test(output)) return 'already-there';
  if (/status 429|status 5\d\d|\b429 Too Many Requests|\b50[0-4] (Internal Server Error|Bad Gateway|Service Unavailable|Gateway Timeout)|failed to connect|couldn't connect|connection (refused|reset)|operation timed out|timeout was reached/i.test(output)) {
    return 'retry';
  }
  return 'fail';
}

const key = (c: { name: string; version: string }) => `${c.name}@${c.version}`;
const label = (c: { name: string; version: string }) => `${c.name} ${c.version}`;

/** Read and check every crate; throws before anything is uploaded if one is not publishable. */
async function plan(o: CratesRunOptions, port: CratesPort): Promise<CrateDir[]> {
  if (o.dirs.length === 0) throw new UsageError('no crate directories given', 'name the crate directories to publish, e.g. crates publish veilid-tools veilid-core');
  const crates: CrateDir[] = [];
  for (const dir of o.dirs) crates.push(await port.readCrate(dir));
  const want = o.versionCheck ? releaseVersion(o.release) : undefined;
  const problems: string[] = [];
  const seen = new Map<string, string>();
  for (const c of crates) {
    if (seen.has(c.name)) problems.push(`crate ${c.name} given twice (${seen.get(c.name)} and ${c.dir})`);
    seen.set(c.name, c.dir);
    if (want !== undefined && c.version !== want) problems.push(`${c.manifestPath}: ${c.name} has version ${c.version}, release ${o.release} wants ${want}`);
    if (c.publish !== null && c.publish.length === 0) problems.push(`${c.manifestPath}: ${c.name} has publish = false`);
    else if (c.publish !== null && !c.publish.includes(o.registry ?? 'crates-io')) {
      problems.push(`${c.manifestPath}: ${c.name} may only be published to ${c.publish.join(', ')}, not ${o.registry ?? 'crates-io'}`);
    }
  }
  if (problems.length) {
    throw new PkgfleetError('E_CRATE_CHECK', `not publishing anything: ${problems.join('; ')}`, want !== undefined ? 'set the versions in Cargo.toml to the release, or pass --no-version-check' : undefined);
  }
  return publishOrder(
    crates.map((c) => Object.assign(c, { after: c.dependencies.filter(needsPublishedDependency).map((d) => d.name) })),
  );
}

export async function publishCrates(o: CratesRunOptions, port: CratesPort): Promise<Summary> {
  const sleep = o.sleep ?? abortableSleep;
  const now = o.now ?? Date.now;
  const ordered = await plan(o, port);
  const inRun = new Map(ordered.map((c) => [c.name, c]));
  o.logger.info(`publish order: ${ordered.map(label).join(', ')}`, { registry: o.registry ?? 'crates-io', dryRun: o.dryRun || undefined });

  const outcomes: Outcome[] = [];
  const status = new Map<string, Outcome['status']>();
  const visible = new Set<string>();

  const waitVisible = async (crate: CrateDir, deps: CrateDir[]): Promise<string | undefined> => {
    let pending = deps.filter((d) => !visible.has(key(d)));
    if (pending.length === 0) return undefined;
    const deadline = now() + o.indexTimeoutMs;
    let interval = o.indexPollMs;
    let announced = false;
    let last: string;
    for (;;) {
      const r = await port.visible(pending, crate.dir);
      if (r.visible) {
        for (const d of pending) visible.add(key(d));
        if (announced) o.logger.info(`${pending.map(label).join(', ')} now in the index`, { crate: crate.name });
        return undefined;
      }
      last = r.output;
      const left = deadline - now();
      if (left <= 0) break;
      if (!announced) o.logger.info(`waiting for ${pending.map(label).join(', ')} to appear in the index before publishing ${crate.name}`, { timeoutMs: o.indexTimeoutMs });
      announced = true;
      // The last poll happens at the deadline, so the whole allowance is used.
      await sleep(Math.min(interval, left), o.signal);
      interval = Math.min(interval * 2, 10_000);
      pending = pending.filter((d) => !visible.has(key(d)));
    }
    return `${pending.map(label).join(', ')} not in the index after ${Math.round(o.indexTimeoutMs / 1000)}s (${tail(last, 1)})`;
  };

  const publishOne = async (crate: CrateDir): Promise<Outcome> => {
    const item = label(crate);
    const deps = crate.dependencies.filter(needsPublishedDependency).map((d) => inRun.get(d.name)).filter((d): d is CrateDir => d !== undefined);
    const broken = deps.filter((d) => status.get(d.name) === 'failed');
    if (broken.length) return { item, status: 'failed', detail: `not published: depends on ${broken.map((d) => d.name).join(', ')}, which failed` };
    if (await port.versionExists(crate.name, crate.version)) return { item, status: 'already-there' };
    if (o.dryRun) return { item, status: 'would-publish' };
    const notVisible = await waitVisible(crate, deps);
    if (notVisible) return { item, status: 'failed', detail: `not published: ${notVisible}; re-run later` };
    for (let attempt = 0; ; attempt++) {
      o.logger.info(`publishing ${item}`, { attempt: attempt > 0 ? attempt + 1 : undefined });
      const r = await port.publish(crate);
      if (r.code === 0) return { item, status: 'published' };
      const kind = classifyPublishFailure(r.output);
      if (kind === 'already-there') return { item, status: 'already-there' };
      // A 5xx or a dropped connection may hide a publish that went through: ask before retrying.
      if (kind === 'retry' && (await port.versionExists(crate.name, crate.version))) return { item, status: 'published' };
      if (kind === 'fail' || attempt >= o.publishRetries) {
        return { item, status: 'failed', detail: `cargo publish exited ${r.code}${kind === 'retry' ? ` after ${attempt + 1} attempts` : ''}: ${tail(r.output, 2)}` };
      }
      const delayMs = backoffDelay(attempt + 1, o.retryBaseMs, 60_000);
      o.logger.warn(`cargo publish ${item} failed, retrying in ${Math.round(delayMs / 100) / 10}s`, { reason: tail(r.output, 1) });
      await sleep(delayMs, o.signal);
    }
  };

  for (const crate of ordered) {
    let outcome: Outcome;
    try {
      outcome = await publishOne(crate);
    } catch (err) {
      if (o.signal?.aborted) throw err;
      outcome = { item: label(crate), status: 'failed', detail: (err as Error).message };
    }
    if (outcome.status === 'published' || outcome.status === 'already-there') o.logger.info(`${outcome.item}: ${outcome.status === 'published' ? 'published' : 'already there'}`);
    else if (outcome.status === 'failed') o.logger.error(`${outcome.item}: ${outcome.detail ?? 'failed'}`);
    outcomes.push(outcome);
    status.set(crate.name, outcome.status);
  }
  return { what: 'crates', release: o.release, dryRun: o.dryRun, outcomes };
}
