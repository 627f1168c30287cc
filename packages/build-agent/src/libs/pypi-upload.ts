/**
 * `pypi upload`: check every file first (wheel or sdist, version against the tag), then for each:
 * skip it if the index has the same file (same name, same sha256), refuse it if the index has other
 * bytes under that name (PyPI never takes a re-upload), else `twine upload` it with retries.
 */
import { abortableSleep, backoffDelay, PkgfleetError, UsageError, type Logger } from '@pkgfleet/shared';
import { basename } from 'node:path';
import { normalizeProjectName, parseDistFilename, type DistFile } from './pypi-files';
import type { ReleaseFiles } from './pypi-api';
import { tail, type ToolResult } from './run-tool';
import type { Outcome, Summary } from './summary';
import { normalizePep440, releaseVersion, samePep440 } from './versions';

export interface PypiPort {
  /** sha256 (hex) of a local file; throws naming the file if it cannot be read. */
  sha256(path: string): Promise<string>;
  releaseFiles(project: string, version: string): Promise<ReleaseFiles>;
  upload(path: string): Promise<ToolResult>;
}

export interface PypiRunOptions {
  release: string;
  files: string[];
  versionCheck: boolean;
  dryRun: boolean;
  retries: number;
  retryBaseMs: number;
  logger: Logger;
  signal?: AbortSignal;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export type UploadFailure = 'exists' | 'retry' | 'fail';

/** What a failed `twine upload` means, from its output (twine prints `HTTPError: 429 Too Many Requests from URL`). */
export function classifyUploadFailure(output: string): UploadFailure {
  if (/File already exists/i.test(output)) return 'exists';
  if (/HTTPError: (429|408|5\d\d)\b|ConnectionError|Max retries exceeded|Connection (refused|reset|aborted)|Read timed out|RemoteDisconnected/i.test(output)) return 'retry';
  return 'fail';
}

interface Planned extends DistFile {
  path: string;
  sha256: string;
}

async function plan(o: PypiRunOptions, port: PypiPort): Promise<Planned[]> {
  if (o.files.length === 0) throw new UsageError('no files given', 'name the wheels and sdists to upload, e.g. pypi upload dist/*');
  const want = o.versionCheck ? releaseVersion(o.release) : undefined;
  const problems: string[] = [];
  const planned: Planned[] = [];
  const names = new Map<string, string>();
  for (const path of o.files) {
    const dist = parseDistFilename(basename(path));
    if (names.has(dist.filename)) problems.push(`${dist.filename} given twice (${names.get(dist.filename)} and ${path})`);
    names.set(dist.filename, path);
    if (want !== undefined && !samePep440(dist.version, want)) problems.push(`${path}: version ${dist.version}, release ${o.release} wants ${normalizePep440(want) ?? want}`);
    planned.push({ ...dist, path, sha256: await port.sha256(path) });
  }
  if (problems.length) {
    throw new PkgfleetError('E_PYPI_CHECK', `not uploading anything: ${problems.join('; ')}`, want !== undefined ? 'build the module with the release version, or pass --no-version-check' : undefined);
  }
  return planned;
}

export async function uploadDists(o: PypiRunOptions, port: PypiPort): Promise<Summary> {
  const sleep = o.sleep ?? abortableSleep;
  const files = await plan(o, port);
  const cache = new Map<string, ReleaseFiles>();
  const releaseFiles = async (f: Planned, fresh = false) => {
    const k = `${normalizeProjectName(f.name)} ${f.version}`;
    if (fresh || !cache.has(k)) cache.set(k, await port.releaseFiles(f.name, normalizePep440(f.version) ?? f.version));
    return cache.get(k)!;
  };
  const conflict = (f: Planned, theirs: string): Outcome => ({
    item: f.filename,
    status: 'failed',
    detail: `the index has ${f.filename} with other content (sha256 ${theirs.slice(0, 12)}…, this file ${f.sha256.slice(0, 12)}…); PyPI never accepts a file name twice: release a new version`,
  });

  const uploadOne = async (f: Planned): Promise<Outcome> => {
    const theirs = (await releaseFiles(f)).get(f.filename);
    if (theirs === f.sha256) return { item: f.filename, status: 'already-there' };
    if (theirs !== undefined) return conflict(f, theirs);
    if (o.dryRun) return { item: f.filename, status: 'would-publish' };
    for (let attempt = 0; ; attempt++) {
      o.logger.info(`uploading ${f.filename}`, { attempt: attempt > 0 ? attempt + 1 : undefined });
      const r = await port.upload(f.path);
      if (r.code === 0) return { item: f.filename, status: 'published' };
      const kind = classifyUploadFailure(r.output);
      if (kind !== 'fail') {
        // The index may have the file now: an earlier attempt that timed out, or a JSON API that lagged.
        const now = (await releaseFiles(f, true)).get(f.filename);
        if (now === f.sha256) return { item: f.filename, status: kind === 'exists' ? 'already-there' : 'published' };
        if (now !== undefined) return conflict(f, now);
      }
      if (kind !== 'retry' || attempt >= o.retries) {
        return { item: f.filename, status: 'failed', detail: `twine upload exited ${r.code}${kind === 'retry' ? ` after ${attempt + 1} attempts` : ''}: ${tail(r.output, 2)}` };
      }
      const delayMs = backoffDelay(attempt + 1, o.retryBaseMs, 60_000);
      o.logger.warn(`twine upload ${f.filename} failed, retrying in ${Math.round(delayMs / 100) / 10}s`, { reason: tail(r.output, 1) });
      await sleep(delayMs, o.signal);
    }
  };

  const outcomes: Outcome[] = [];
  for (const f of files) {
    let outcome: Outcome;
    try {
      outcome = await uploadOne(f);
    } catch (err) {
      if (o.signal?.aborted) throw err;
      outcome = { item: f.filename, status: 'failed', detail: (err as Error).message };
    }
    if (outcome.status === 'failed') o.logger.error(`${f.filename}: ${outcome.detail ?? 'failed'}`);
    else if (outcome.status !== 'would-publish') o.logger.info(`${f.filename}: ${outcome.status === 'published' ? 'uploaded' : 'already there'}`);
    outcomes.push(outcome);
  }
  return { what: 'pypi', release: o.release, dryRun: o.dryRun, outcomes };
}
