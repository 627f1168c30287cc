import { TimeoutError, abortableSleep, type Logger } from '@pkgfleet/shared';
import { DigitalOceanError, DoApi, type DoApiOptions, type DoDroplet } from './digitalocean-api';
import type { Bootstrap, CreateRequest, CreateResult, Machine, Provider } from './provider';
import { FLEET_TAG, machineName, machineTags, parseMachineTags, releaseTag, targetTag } from './tags';

export interface DropletSettings {
  region: string;
  size: string;
  image: string;
  /** SSH key ids or fingerprints registered in the account. */
  sshKeys: string[];
  vpcUuid?: string | undefined;
  monitoring: boolean;
}

export interface DigitalOceanOptions extends DoApiOptions {
  droplet: DropletSettings;
  /** Per-target overrides of region, size, image (e.g. another image for rpm targets). */
  dropletFor?: (target: string) => Partial<Pick<DropletSettings, 'region' | 'size' | 'image'>>;
  /** The cloud-init user-data for a new machine. */
  userData: (release: string, target: string, bootstrap: Bootstrap) => string;
  /** How often waitReady and delete look at the droplets (default 5 s). */
  pollIntervalMs?: number;
  /** How long delete waits for the droplets to be gone (default 2 min). */
  deleteTimeoutMs?: number;
  /** How often an ambiguous create is looked up and tried again (default 3). */
  createAttempts?: number;
  /** per_page of list requests (default 200, the API's maximum). */
  pageSize?: number;
}

/** Droplets tagged pkgfleet / pkgfleet-release:<r> / pkgfleet-target:<t> (see tags.ts). */
export class DigitalOceanProvider implements Provider {
  readonly name = 'digitalocean' as const;
  private readonly api: DoApi;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;

  constructor(private readonly opts: DigitalOceanOptions) {
    this.api = new DoApi(opts);
    this.logger = opts.logger;
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? abortableSleep;
  }

  async create(req: CreateRequest): Promise<CreateResult> {
    for (const t of req.targets) targetTag(t); // validate all before creating any
    const existing = await this.byTarget(req.release, req.signal);
    const reused: string[] = [];
    const results = await Promise.allSettled(
      req.targets.map(async (target): Promise<Machine> => {
        const found = existing.get(target);
        if (found) {
          reused.push(target);
          this.logger.info('reusing machine', { release: req.release, target, id: found.id, name: found.name });
          return found;
        }
        return this.createOne(req.release, target, await req.bootstrap(target), req.signal);
      }),
    );
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ target: req.targets[i]!, error: r.reason as Error }] : []));
    if (failed.length > 0) {
      const first = failed[0]!.error;
      throw new DigitalOceanError(
        (first as DigitalOceanError).code ?? 'E_DO_CREATE',
        `creating machines for release ${req.release} failed for ${failed.map((f) => f.target).join(', ')}: ${failed.map((f) => f.error.message).join('; ')}`,
        (first as DigitalOceanError).status,
        `run \`machines create\` again to retry (it reuses what exists) or \`machines delete --release ${req.release}\``,
        { cause: first },
      );
    }
    return { machines: results.map((r) => (r as PromiseFulfilledResult<Machine>).value), reused };
  }

  /**
   * POST one droplet. A 5xx or a lost connection leaves it unknown whether the droplet exists: look
   * it up by its tags before trying again, so that a retry never makes a second one.
   */
  private async createOne(release: string, target: string, bootstrap: Bootstrap, signal?: AbortSignal): Promise<Machine> {
    const d = { ...this.opts.droplet, ...this.opts.dropletFor?.(target) };
    const body = {
      name: machineName(release, target),
      region: d.region,
      size: d.size,
      image: /^\d+$/.test(d.image) ? Number(d.image) : d.image,
      ssh_keys: d.sshKeys.map((k) => (/^\d+$/.test(k) ? Number(k) : k)),
      ...(d.vpcUuid ? { vpc_uuid: d.vpcUuid } : {}),
      monitoring: d.monitoring,
      ipv6: false,
      backups: false,
      tags: machineTags(release, target),
      user_data: this.opts.userData(release, target, bootstrap),
    };
    const attempts = this.opts.createAttempts ?? 3;
    for (let n = 1; ; n++) {
      try {
        const res = await this.api.request<{ droplet: DoDroplet }>('POST', 'v2/droplets', body, signal);
        if (!res?.droplet) throw new DigitalOceanError('E_DO_RESPONSE', `DigitalOcean API POST /v2/droplets: no droplet in the answer for ${body.name}`, 202);
        const m = toMachine(res.droplet);
        this.logger.info('created machine', { release, target, id: m.id, name: m.name });
        return m;
      } catch (err) {
        if (!(err instanceof DigitalOceanError) || !err.ambiguous || signal?.aborted) throw err;
        const found = (await this.byTarget(release, signal)).get(target);
        if (found) {
          this.logger.warn('create answered with an error but the machine exists: using it', { release, target, id: found.id, reason: err.message });
          return found;
        }
        if (n >= attempts) throw err;
        this.logger.warn('create failed, no machine was made: trying again', { release, target, attempt: n, reason: err.message });
      }
    }
  }

  private async byTarget(release: string, signal?: AbortSignal): Promise<Map<string, Machine>> {
    const map = new Map<string, Machine>();
    for (const m of await this.list({ release }, signal)) {
      const seen = map.get(m.target);
      // Two machines for one target (a concurrent run): keep using the older, say so.
      if (seen) this.logger.warn('more than one machine for a target', { release, target: m.target, ids: [seen.id, m.id] });
      if (!seen || m.createdAt < seen.createdAt) map.set(m.target, m);
    }
    return map;
  }

  async waitReady(release: string, targets: string[], deadline: number, signal?: AbortSignal): Promise<Machine[]> {
    const interval = this.opts.pollIntervalMs ?? 5000;
    for (;;) {
      const byTarget = await this.byTarget(release, signal);
      const late = targets.filter((t) => !byTarget.get(t)?.ready);
      if (late.length === 0) return targets.map((t) => byTarget.get(t)!);
      if (this.now() >= deadline) {
        const why = late.map((t) => `${t} (${byTarget.get(t) ? `droplet ${byTarget.get(t)!.id} still ${byTarget.get(t)!.status}` : 'no droplet'})`);
        throw new TimeoutError('E_MACHINES_NOT_READY', `machines of release ${release} not active in time: ${why.join(', ')}`, 'look at the droplets in the DigitalOcean console, then delete and create again');
      }
      await this.sleep(Math.min(interval, Math.max(0, deadline - this.now())), signal);
    }
  }

  async list(filter: { release?: string } = {}, signal?: AbortSignal): Promise<Machine[]> {
    const tag = filter.release === undefined ? FLEET_TAG : releaseTag(filter.release);
    const droplets = await this.api.listAll<DoDroplet>(`v2/droplets?tag_name=${encodeURIComponent(tag)}&per_page=${this.opts.pageSize ?? 200}`, 'droplets', signal);
    // The filter is the server's; check again here so that a droplet without our tags is never touched.
    return droplets.map(toMachine).filter((m) => m.fleet && (filter.release === undefined || m.release === filter.release));
  }

  async deleteRelease(release: string, signal?: AbortSignal): Promise<number> {
    return this.deleteByTag(releaseTag(release), () => this.list({ release }, signal), signal);
  }

  async deleteAll(signal?: AbortSignal): Promise<number> {
    return this.deleteByTag(FLEET_TAG, () => this.list({}, signal), signal);
  }

  /** DELETE /v2/droplets?tag_name=..., then wait until the droplets are gone from the list. */
  private async deleteByTag(tag: string, list: () => Promise<Machine[]>, signal?: AbortSignal): Promise<number> {
    const before = await list();
    if (before.length === 0) return 0;
    try {
      await this.api.request('DELETE', `v2/droplets?tag_name=${encodeURIComponent(tag)}`, undefined, signal);
    } catch (err) {
      if (!(err instanceof DigitalOceanError && err.status === 404)) throw err;
    }
    const deadline = this.now() + (this.opts.deleteTimeoutMs ?? 120_000);
    for (;;) {
      const left = await list();
      if (left.length === 0) break;
      if (this.now() >= deadline) {
        throw new TimeoutError('E_MACHINES_DELETE', `droplets tagged ${tag} still listed after delete: ${left.map((m) => `${m.name} (${m.id})`).join(', ')}`, 'run the delete again; if they stay, delete them in the DigitalOcean console');
      }
      await this.sleep(this.opts.pollIntervalMs ?? 5000, signal);
    }
    this.logger.info('deleted machines', { tag, count: before.length });
    return before.length;
  }

  async deleteMachine(id: string, signal?: AbortSignal): Promise<boolean> {
    if (!/^\d+$/.test(id)) throw new DigitalOceanError('E_DO_INVALID', `droplet id ${JSON.stringify(id)} is not a number`, undefined);
    try {
      await this.api.request('DELETE', `v2/droplets/${id}`, undefined, signal);
      return true;
    } catch (err) {
      if (err instanceof DigitalOceanError && err.status === 404) return false;
      throw err;
    }
  }
}

export function toMachine(d: DoDroplet): Machine {
  const tags = parseMachineTags(d.tags ?? []);
  const v4 = d.networks?.v4 ?? [];
  const priv = v4.find((n) => n.type === 'private')?.ip_address;
  const pub = v4.find((n) => n.type === 'public')?.ip_address;
  return {
    id: String(d.id),
    name: d.name,
    release: tags.release ?? '',
    target: tags.target ?? '',
    status: d.status,
    ready: d.status === 'active',
    createdAt: new Date(d.created_at),
    ...(priv ? { privateAddress: priv } : {}),
    ...(pub ? { publicAddress: pub } : {}),
    fleet: tags.fleet,
  };
}
