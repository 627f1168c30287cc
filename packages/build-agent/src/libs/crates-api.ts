/**
 * The registry web API (https://doc.rust-lang.org/cargo/reference/registry-web-api.html), for the
 * one question cargo cannot answer without side effects: does the registry already have NAME@VERSION?
 */
import { fetchWithRetry, PkgfleetError, VERSION, type RetryInfo } from '@pkgfleet/shared';

export const CRATES_IO_API = 'https://crates.io';

export interface CratesApiOptions {
  /** API base URL, e.g. https://crates.io (the `api` of the index's config.json). */
  api: string;
  retries: number;
  signal?: AbortSignal;
  onRetry?: (info: RetryInfo & { url: string }) => void;
  /** Injected for tests. */
  sleep?: (ms: number) => Promise<void>;
}

export interface CratesApi {
  /** True when the registry holds this version (yanked or not: either way it cannot be uploaded again). */
  versionExists(name: string, version: string): Promise<boolean>;
}

/** crates.io's error body: {"errors":[{"detail":"…"}]}. */
export function errorDetail(text: string): string {
  try {
    const doc = JSON.parse(text) as { errors?: Array<{ detail?: string }> };
    const details = doc.errors?.map((e) => e.detail).filter(Boolean);
    if (details?.length) return details.join('; ');
  } catch {
    // not JSON: fall through to the raw text
  }
  return text.trim().slice(0, 300);
}

export function cratesApi(opts: CratesApiOptions): CratesApi {
  const base = opts.api.replace(/\/+$/, '');
  return {
    async versionExists(name, version) {
      const url = `${base}/api/v1/crates/${encodeURIComponent(name)}/${encodeURIComponent(version)}`;
      // crates.io's crawler policy asks for a User-Agent that names the client.
      const res = await fetchWithRetry(
        url,
        { headers: { 'user-agent': `pkgfleet-build-agent/${VERSION}`, accept: 'application/json' } },
        { retries: opts.retries, signal: opts.signal, onRetry: (i) => opts.onRetry?.({ ...i, url }), ...(opts.sleep ? { sleep: opts.sleep } : {}) },
      ).catch((err: unknown) => {
        throw new PkgfleetError('E_REGISTRY_UNREACHABLE', `registry API ${base}: ${(err as Error).message}`, 'check the registry URL and the network', { cause: err });
      });
      const text = await res.text();
      if (res.status === 200) return true;
      if (res.status === 404) return false;
      throw new PkgfleetError('E_REGISTRY_API', `registry API ${url}: HTTP ${res.status}: ${errorDetail(text)}`, res.status >= 500 || res.status === 429 ? 'the registry is struggling; re-run later' : undefined);
    },
  };
}
