/**
 * Retrying HTTP for talking to rate-limited APIs (registries, cloud providers): 429 with
 * Retry-After, 5xx and network errors are retried with capped exponential backoff and jitter;
 * everything else is returned to the caller as is. The response body of a retried attempt is
 * discarded; the last response (or error) is what the caller sees when retries run out.
 */
import { TimeoutError } from '../errors';

export interface RetryOptions {
  /** Attempts after the first one (default 5). */
  retries?: number;
  /** First backoff delay in ms; doubles each attempt (default 500). */
  baseDelayMs?: number;
  /** Upper bound for one delay, whether from backoff or Retry-After (default 30 000). */
  maxDelayMs?: number;
  signal?: AbortSignal;
  /** Called before each wait, e.g. to log `retrying in 2s after 429`. */
  onRetry?: (info: RetryInfo) => void;
  /** Injected for tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  now?: () => Date;
}

export interface RetryInfo {
  /** 1 for the first retry. */
  attempt: number;
  delayMs: number;
  /** `429`, `503`, or the network error's message. */
  reason: string;
}

/** What an attempt produced, as far as retrying is concerned. */
export type RetryDecision = { retry: false } | { retry: true; reason: string; delayMs?: number };

/** HTTP statuses worth another try: rate limits and server-side failures. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 408 || (status >= 500 && status <= 599);
}

/**
 * Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. Returns milliseconds from `now`,
 * or undefined when absent or unparsable.
 */
export function parseRetryAfter(value: string | null | undefined, now: Date = new Date()): number | undefined {
  if (value == null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now.getTime());
}

/** Full-jitter exponential backoff: a random delay in [base·2^(n-1)/2, base·2^(n-1)], capped. */
export function backoffDelay(attempt: number, baseDelayMs: number, maxDelayMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Run `attempt` until `decide` says not to retry or retries run out. `decide` sees each result
 * (or thrown error); an error it does not retry is rethrown.
 */
export async function withRetry<T>(
  attempt: (n: number) => Promise<T>,
  decide: (outcome: { ok: true; value: T } | { ok: false; error: unknown }) => RetryDecision,
  opts: RetryOptions = {},
): Promise<T> {
  const retries = opts.retries ?? 5;
  const base = opts.baseDelayMs ?? 500;
  const max = opts.maxDelayMs ?? 30_000;
  const sleep = opts.sleep ?? abortableSleep;
  for (let n = 0; ; n++) {
    let outcome: { ok: true; value: T } | { ok: false; error: unknown };
    try {
      outcome = { ok: true, value: await attempt(n) };
    } catch (error) {
      if (opts.signal?.aborted) throw error;
      outcome = { ok: false, error };
    }
    const d = decide(outcome);
    if (!d.retry || n >= retries) {
      if (outcome.ok) return outcome.value;
      throw outcome.error;
    }
    const delayMs = Math.min(max, d.delayMs ?? backoffDelay(n + 1, base, max, opts.random));
    opts.onRetry?.({ attempt: n + 1, delayMs, reason: d.reason });
    await sleep(delayMs, opts.signal);
  }
}

export interface FetchRetryOptions extends RetryOptions {
  /** Per-attempt timeout in ms (default 30 000); a timed-out attempt counts as a network error. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/**
 * `fetch` that retries 429 (honouring Retry-After), 408, 5xx and network errors. Only use it for
 * requests that are safe to repeat (GET, or an idempotent PUT/DELETE).
 */
export async function fetchWithRetry(url: string | URL, init: RequestInit = {}, opts: FetchRetryOptions = {}): Promise<Response> {
  const doFetch = opts.fetch ?? fetch;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const now = opts.now ?? (() => new Date());
  const retries = opts.retries ?? 5;
  let current = 0;
  return withRetry(
    async (n) => {
      current = n;
      const signals = [AbortSignal.timeout(timeoutMs)];
      if (opts.signal) signals.push(opts.signal);
      if (init.signal) signals.push(init.signal);
      try {
        return await doFetch(url, { ...init, signal: AbortSignal.any(signals) });
      } catch (err) {
        if ((err as Error).name === 'TimeoutError') {
          throw new TimeoutError('E_HTTP_TIMEOUT', `${String(url)}: no answer within ${timeoutMs} ms`, undefined, { cause: err });
        }
        throw err;
      }
    },
    (o) => {
      if (!o.ok) return { retry: true, reason: networkReason(o.error) };
      const res = o.value;
      if (!isRetryableStatus(res.status)) return { retry: false };
      // Free the connection of an attempt we are about to discard (not the last one: the caller reads it).
      if (current < retries) void res.body?.cancel().catch(() => undefined);
      const after = parseRetryAfter(res.headers.get('retry-after'), now());
      return after === undefined ? { retry: true, reason: String(res.status) } : { retry: true, reason: String(res.status), delayMs: after };
    },
    { ...opts, retries },
  );
}

function networkReason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? err.message;
}
