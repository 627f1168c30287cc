/**
 * PyPI's JSON API (https://docs.pypi.org/api/json/): which files a release of a project already has,
 * with their sha256, so that an upload can be skipped (same file) or refused (same name, other bytes).
 */
import { fetchWithRetry, PkgfleetError, VERSION, type RetryInfo } from '@pkgfleet/shared';
import { normalizeProjectName } from './pypi-files';

export interface PypiApiOptions {
  /** Base URL, e.g. https://pypi.org. */
  jsonUrl: string;
  retries: number;
  baseDelayMs?: number;
  signal?: AbortSignal;
  onRetry?: (info: RetryInfo & { url: string }) => void;
}

/** filename → sha256 of the files a release has (empty when the project or release does not exist). */
export type ReleaseFiles = Map<string, string>;

/** Where the JSON API of an upload URL lives. */
export function jsonUrlFor(repositoryUrl: string): string {
  const u = new URL(repositoryUrl);
  if (u.hostname === 'upload.pypi.org') return 'https://pypi.org';
  if (u.hostname === 'test.pypi.org' || u.hostname === 'upload.test.pypi.org') return 'https://test.pypi.org';
  return u.origin;
}

export function pypiApi(opts: PypiApiOptions): { releaseFiles(project: string, version: string): Promise<ReleaseFiles> } {
  const base = opts.jsonUrl.replace(/\/+$/, '');
  return {
    async releaseFiles(project, version) {
      const url = `${base}/pypi/${encodeURIComponent(normalizeProjectName(project))}/${encodeURIComponent(version)}/json`;
      const res = await fetchWithRetry(
        url,
        { headers: { accept: 'application/json', 'user-agent': `pkgfleet-build-agent/${VERSION}` } },
        { retries: opts.retries, ...(opts.baseDelayMs ? { baseDelayMs: opts.baseDelayMs } : {}), signal: opts.signal, onRetry: (i) => opts.onRetry?.({ ...i, url }) },
      ).catch((err: unknown) => {
        throw new PkgfleetError('E_REGISTRY_UNREACHABLE', `PyPI JSON API ${base}: ${(err as Error).message}`, 'check --json-url (pypiJsonUrl) and the network', { cause: err });
      });
      if (res.status === 404) {
        await res.body?.cancel();
        return new Map();
      }
      const text = await res.text();
      if (res.status !== 200) throw new PkgfleetError('E_REGISTRY_API', `PyPI JSON API ${url}: HTTP ${res.status}: ${text.trim().slice(0, 200)}`);
      let doc: { urls?: Array<{ filename?: string; digests?: { sha256?: string } }> };
      try {
        doc = JSON.parse(text) as typeof doc;
      } catch (err) {
        throw new PkgfleetError('E_REGISTRY_API', `PyPI JSON API ${url}: answer is not JSON`, undefined, { cause: err });
      }
      const files: ReleaseFiles = new Map();
      for (const f of doc.urls ?? []) if (f.filename && f.digests?.sha256) files.set(f.filename, f.digests.sha256);
      return files;
    },
  };
}
