import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { backoffDelay, fetchWithRetry, parseRetryAfter, withRetry, type RetryInfo } from './retry';

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP-dates', () => {
    const now = new Date('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 00:00:10 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});

describe('backoffDelay', () => {
  it('grows exponentially and stays under the cap', () => {
    expect(backoffDelay(1, 100, 10_000, () => 1)).toBe(100);
    expect(backoffDelay(3, 100, 10_000, () => 1)).toBe(400);
    expect(backoffDelay(3, 100, 10_000, () => 0)).toBe(200);
    expect(backoffDelay(20, 100, 1000, () => 1)).toBe(1000);
  });
});

describe('withRetry', () => {
  it('gives up after the configured retries and rethrows the last error', async () => {
    let calls = 0;
    const waits: number[] = [];
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new Error(`boom ${calls}`);
        },
        () => ({ retry: true, reason: 'boom' }),
        { retries: 2, sleep: async (ms) => void waits.push(ms), random: () => 1, baseDelayMs: 10 },
      ),
    ).rejects.toThrow('boom 3');
    expect(calls).toBe(3);
    expect(waits).toEqual([10, 20]);
  });
});

describe('fetchWithRetry', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  async function serve(statuses: Array<[number, Record<string, string>?]>): Promise<{ url: string; hits: () => number }> {
    let hits = 0;
    server = createServer((_req, res) => {
      const [status, headers] = statuses[Math.min(hits, statuses.length - 1)]!;
      hits++;
      res.writeHead(status, headers ?? {}).end(`answer ${hits}`);
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}/`, hits: () => hits };
  }

  it('retries 429 honouring Retry-After, and 5xx, then returns the success', async () => {
    const s = await serve([[429, { 'retry-after': '2' }], [503], [200]]);
    const seen: RetryInfo[] = [];
    const res = await fetchWithRetry(s.url, {}, { sleep: async () => undefined, onRetry: (i) => seen.push(i), random: () => 1, baseDelayMs: 50 });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('answer 3');
    expect(seen.map((i) => [i.reason, i.delayMs])).toEqual([
      ['429', 2000],
      ['503', 100],
    ]);
  });

  it('does not retry other client errors', async () => {
    const s = await serve([[404], [200]]);
    const res = await fetchWithRetry(s.url, {}, { sleep: async () => undefined });
    expect(res.status).toBe(404);
    expect(s.hits()).toBe(1);
  });

  it('returns the last response, body intact, when retries run out', async () => {
    const s = await serve([[500]]);
    const res = await fetchWithRetry(s.url, {}, { retries: 2, sleep: async () => undefined });
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('answer 3');
    expect(s.hits()).toBe(3);
  });

  it('retries connection errors', async () => {
    const s = await serve([[200]]);
    const url = s.url;
    await new Promise<void>((r) => server!.close(() => r()));
    server = undefined;
    const seen: RetryInfo[] = [];
    await expect(fetchWithRetry(url, {}, { retries: 1, sleep: async () => undefined, onRetry: (i) => seen.push(i) })).rejects.toThrow();
    expect(seen).toHaveLength(1);
    expect(seen[0]!.reason).toBe('ECONNREFUSED');
  });
});
