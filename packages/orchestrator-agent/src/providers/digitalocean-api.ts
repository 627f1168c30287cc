import { PkgfleetError, abortableSleep, isRetryableStatus, parseRetryAfter, withRetry, type Logger } from '@pkgfleet/shared';

/**
 * A small client of the DigitalOcean API v2 (https://docs.digitalocean.com/reference/api/):
 * bearer token, JSON, `links.pages.next` pagination, and retries: 429 waits for Retry-After or
 * `ratelimit-reset`, 5xx and network errors back off (bounded). A POST is retried only where it
 * cannot have been processed (429, connection refused): the caller decides how to recover from an
 * ambiguous failure (see DigitalOceanProvider.create, which looks before it creates again).
 */
export interface DoApiOptions {
  token: string;
  /** e.g. https://api.digitalocean.com (an emulator of the documented API may stand in). */
  baseUrl: string;
  logger: Logger;
  retries?: number;
  baseDelayMs?: number;
  /** Longest single wait, also for Retry-After (default 60 s); a longer wait fails with E_DO_RATE_LIMIT. */
  maxDelayMs?: number;
  timeoutMs?: number;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  fetch?: typeof fetch;
}

export class DigitalOceanError extends PkgfleetError {
  constructor(
    code: `E_${string}`,
    message: string,
    readonly status: number | undefined,
    hint?: string,
    options?: ErrorOptions,
  ) {
    super(code, message, hint, options);
  }
  /** True when the request may or may not have been processed (5xx, connection lost). */
  get ambiguous(): boolean {
    return this.status === undefined || this.status >= 500;
  }
}

/** A droplet as the API returns it (only the fields pkgfleet reads). */
export interface DoDroplet {
  id: number;
  name: string;
  status: string;
  created_at: string;
  tags: string[];
  networks?: { v4?: { ip_address: string; type: string }[] };
}

interface Page {
  links?: { pages?: { next?: string } };
}

export class DoApi {
  private readonly base: URL;
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Set when a response said the budget is spent: the next request waits until the reset. */
  private pausedUntil = 0;

  constructor(private readonly opts: DoApiOptions) {
    this.base = new URL(opts.baseUrl.endsWith('/') ? opts.baseUrl : opts.baseUrl + '/');
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? abortableSleep;
  }

  /** One request; returns the parsed JSON body (undefined for 204). */
  async request<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, signal?: AbortSignal): Promise<T | undefined> {
    const url = new URL(path.replace(/^\//, ''), this.base);
    const what = `DigitalOcean API ${method} ${url.pathname}${url.search}`;
    const maxDelay = this.opts.maxDelayMs ?? 60_000;
    const timeoutMs = this.opts.timeoutMs ?? 30_000;
    const retries = this.opts.retries ?? 6;
    let attempt = 0;
    const res = await withRetry<Response>(
      async (n) => {
        attempt = n;
        const wait = this.pausedUntil - this.now();
        if (wait > 0) {
          this.opts.logger.info('DigitalOcean rate limit spent, waiting for its reset', { waitMs: wait });
          await this.sleep(Math.min(wait, maxDelay), signal);
        }
        const signals = [AbortSignal.timeout(timeoutMs)];
        if (signal) signals.push(signal);
        const r = await (this.opts.fetch ?? fetch)(url, {
          method,
          headers: {
            authorization: `Bearer ${this.opts.token}`,
            accept: 'application/json',
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? null : JSON.stringify(body),
          signal: AbortSignal.any(signals),
        });
        this.noteRateLimit(r);
        return r;
      },
      (o) => {
        if (!o.ok) {
          const code = (o.error as { cause?: { code?: string } }).cause?.code ?? (o.error as Error).name;
          // A POST whose connection failed midway may have created something: do not repeat it here.
          const safe = method !== 'POST' || code === 'ECONNREFUSED';
          return safe ? { retry: true, reason: code } : { retry: false };
        }
        const r = o.value;
        if (!isRetryableStatus(r.status)) return { retry: false };
        if (r.status !== 429 && method === 'POST') return { retry: false };
        const delayMs = r.status === 429 ? this.rateLimitDelay(r) : undefined;
        if (delayMs !== undefined && delayMs > maxDelay) return { retry: false };
        // Free the connection of an attempt that is discarded (the last one is read by the caller).
        if (attempt < retries) void r.body?.cancel().catch(() => undefined);
        return delayMs === undefined ? { retry: true, reason: String(r.status) } : { retry: true, reason: '429', delayMs };
      },
      {
        retries,
        baseDelayMs: this.opts.baseDelayMs ?? 1000,
        maxDelayMs: maxDelay,
        sleep: this.sleep,
        ...(signal ? { signal } : {}),
        onRetry: (i) => this.opts.logger.warn(`${what}: retrying`, { attempt: i.attempt, reason: i.reason, delayMs: i.delayMs }),
      },
    ).catch((err: unknown) => {
      if (signal?.aborted) throw err;
      throw new DigitalOceanError('E_DO_NETWORK', `${what}: ${(err as Error).message}`, undefined, `check that ${this.base.origin} is reachable`, { cause: err });
    });
    if (res.status === 204) return undefined;
    const text = await res.text();
    if (!res.ok) throw this.errorFor(res, text, what);
    try {
      return (text ? JSON.parse(text) : undefined) as T;
    } catch (err) {
      throw new DigitalOceanError('E_DO_RESPONSE', `${what}: answered ${res.status} with a body that is not JSON`, res.status, undefined, { cause: err });
    }
  }

  /** Every item of a paginated list (`key` names the array), following links.pages.next. */
  async listAll<T>(path: string, key: string, signal?: AbortSignal): Promise<T[]> {
    const out: T[] = [];
    let next: string | undefined = path;
    for (let pages = 0; next !== undefined; pages++) {
      if (pages >= 1000) throw new DigitalOceanError('E_DO_RESPONSE', `DigitalOcean API ${path}: more than 1000 pages`, undefined);
      const page: (Page & Record<string, unknown>) | undefined = await this.request('GET', next, undefined, signal);
      const items = page?.[key];
      if (!Array.isArray(items)) throw new DigitalOceanError('E_DO_RESPONSE', `DigitalOcean API GET ${next}: no "${key}" array in the answer`, 200);
      out.push(...(items as T[]));
      next = this.relative(page?.links?.pages?.next);
    }
    return out;
  }

  /**
   * The next-page link is absolute (https://api.digitalocean.com/v2/...). Only its path and
   * query are used, against the configured base, so the token never goes to another host.
   */
  private relative(link: string | undefined): string | undefined {
    if (!link) return undefined;
    const u = new URL(link, this.base);
    const basePath = this.base.pathname;
    const path = u.pathname.startsWith(basePath) ? u.pathname.slice(basePath.length) : u.pathname.replace(/^\//, '');
    return path + u.search;
  }

  /** Retry-After (seconds or date), else the `ratelimit-reset` epoch seconds, else undefined (backoff). */
  private rateLimitDelay(r: Response): number | undefined {
    const after = parseRetryAfter(r.headers.get('retry-after'), new Date(this.now()));
    if (after !== undefined) return after;
    const reset = Number(r.headers.get('ratelimit-reset'));
    if (Number.isFinite(reset) && reset > 0) return Math.max(0, reset * 1000 - this.now());
    return undefined;
  }

  private noteRateLimit(r: Response): void {
    const remaining = r.headers.get('ratelimit-remaining');
    const reset = Number(r.headers.get('ratelimit-reset'));
    if (remaining === '0' && Number.isFinite(reset) && reset > 0) this.pausedUntil = reset * 1000;
  }

  private errorFor(res: Response, text: string, what: string): DigitalOceanError {
    let id = '';
    let message = text.slice(0, 300);
    try {
      const j = JSON.parse(text) as { id?: string; message?: string };
      id = j.id ?? '';
      message = j.message ?? message;
    } catch {
      // not JSON: keep the raw text
    }
    const detail = `${what}: ${res.status}${id ? ` ${id}` : ''}${message ? `: ${message}` : ''}`;
    if (res.status === 401 || res.status === 403) {
      return new DigitalOceanError('E_DO_AUTH', detail, res.status, 'check the token (DIGITALOCEAN_TOKEN or digitaloceanTokenFile): it must be valid and have droplet and tag scopes');
    }
    if (res.status === 429) return new DigitalOceanError('E_DO_RATE_LIMIT', detail, 429, 'the API rate limit stayed exhausted; retry later');
    if (res.status === 404) return new DigitalOceanError('E_DO_NOT_FOUND', detail, 404);
    if (res.status === 422) return new DigitalOceanError('E_DO_INVALID', detail, 422, 'check region, size, image, ssh keys and VPC in the config');
    return new DigitalOceanError('E_DO_HTTP', detail, res.status);
  }
}
