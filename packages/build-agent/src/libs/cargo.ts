/**
 * The real `cargo`, for everything that depends on how cargo sees the world (its config, the
 * registry's index, workspace inheritance): reading manifests, publishing, and asking whether a
 * just-published version is visible in the index yet.
 */
import { mkdtemp, readFile, realpath, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FormatError, PkgfleetError, type Logger } from '@pkgfleet/shared';
import { crateFromMetadata, type CrateManifest } from './cargo-manifest';
import { runTool, tail, type ToolResult } from './run-tool';

export interface CargoOptions {
  cargo: string;
  /** Registry name given to cargo's --registry; undefined = crates.io. */
  registry: string | undefined;
  /** Environment for every cargo run (token, CARGO_REGISTRIES_<NAME>_INDEX …). */
  env: NodeJS.ProcessEnv;
  secrets: readonly string[];
  logger: Logger;
  signal?: AbortSignal;
}

export interface CrateDir extends CrateManifest {
  dir: string;
}

/** `CARGO_REGISTRIES_<NAME>_…`: cargo's environment names for a registry's settings. */
export function registryEnvName(registry: string, key: 'INDEX' | 'TOKEN'): string {
  return `CARGO_REGISTRIES_${registry.toUpperCase().replace(/-/g, '_')}_${key}`;
}

export async function readCrate(dir: string, o: CargoOptions): Promise<CrateDir> {
  let manifestPath: string;
  try {
    manifestPath = await realpath(join(dir, 'Cargo.toml'));
  } catch (err) {
    throw new FormatError('E_CRATE_DIR', `${dir}: no Cargo.toml`, 'give the directories of the crates to publish', { cause: err });
  }
  const r = await cargoMetadata(manifestPath, dir, o);
  if (r.code !== 0) throw new FormatError('E_CRATE_MANIFEST', `${manifestPath}: cargo metadata failed: ${tail(r.output)}`, 'fix the manifest; `cargo metadata --no-deps` must succeed');
  return { ...crateFromMetadata(r.stdout, manifestPath), dir };
}

export interface PublishFlags {
  verify: boolean;
  allowDirty: boolean;
}

export function publish(crate: CrateDir, flags: PublishFlags, o: CargoOptions): Promise<ToolResult> {
  const args = ['publish', '--manifest-path', crate.manifestPath];
  if (o.registry) args.push('--registry', o.registry);
  if (!flags.verify) args.push('--no-verify');
  if (flags.allowDirty) args.push('--allow-dirty');
  return runTool(o.cargo, args, { cwd: crate.dir, env: o.env, secrets: o.secrets, logger: o.logger.child({ crate: crate.name }), signal: o.signal });
}

/**
 * A throwaway package that depends on exactly `deps`: resolving it is cargo's own view of the
 * index. Run from `cwd` (a crate directory) so that cargo reads the same config files as a publish.
 */
async function withProbe<T>(deps: ReadonlyArray<{ name: string; version: string }>, registry: string | undefined, fn: (manifest: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'pkgfleet-cargo-probe-'));
  try {
    const reg = registry ? `, registry = ${JSON.stringify(registry)}` : '';
    const lines = deps.map((d, i) => `dep${i} = { package = ${JSON.stringify(d.name)}, version = ${JSON.stringify('=' + d.version)}${reg} }`);
    await mkdir(join(dir, 'src'));
    await writeFile(join(dir, 'src', 'lib.rs'), '');
    await writeFile(join(dir, 'Cargo.toml'), `[package]\nname = "pkgfleet-index-probe"\nversion = "0.0.0"\nedition = "2021"\npublish = false\n\n[workspace]\n\n[dependencies]\n${lines.join('\n')}\n`);
    return await fn(join(dir, 'Cargo.toml'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Whether cargo, updating its view of the index now, resolves every one of `deps` at its exact version. */
export function visibleInIndex(deps: ReadonlyArray<{ name: string; version: string }>, cwd: string, o: CargoOptions): Promise<{ visible: boolean; output: string }> {
  return withProbe(deps, o.registry, async (manifest) => {
    const r = await runTool(o.cargo, ['generate-lockfile', '--manifest-path', manifest], { cwd, env: o.env, secrets: o.secrets, logger: o.logger, relay: 'debug', signal: o.signal });
    return { visible: r.code === 0, output: r.output };
  });
}

/** `cargo metadata --no-deps --offline` of one manifest, output captured (never the network). */
function cargoMetadata(manifestPath: string, cwd: string, o: CargoOptions) {
  return runTool(o.cargo, ['metadata', '--no-deps', '--format-version', '1', '--offline', '--manifest-path', manifestPath], {
    cwd,
    env: o.env,
    secrets: o.secrets,
    logger: o.logger,
    relay: 'debug',
    captureStdout: true,
    signal: o.signal,
  });
}

/** The index URL cargo uses for `registry` (from its config or environment), without touching the network. */
export async function registryIndexUrl(cwd: string, o: CargoOptions & { registry: string }): Promise<string> {
  return withProbe([{ name: 'pkgfleet-probe', version: '0.0.0' }], o.registry, async (manifest) => {
    const r = await cargoMetadata(manifest, cwd, o);
    const url = r.code === 0 ? crateFromMetadata(r.stdout, await realpath(manifest)).dependencies[0]?.registry : undefined;
    if (!url) {
      throw new PkgfleetError('E_CARGO_REGISTRY', `cargo knows no registry named "${o.registry}": ${tail(r.output)}`, `define it in .cargo/config.toml ([registries.${o.registry}] index = "…"), or pass --index`);
    }
    return url;
  });
}

/** The `api` URL from a registry index's config.json (sparse: over HTTP; git: from a shallow clone). */
export async function indexApiUrl(indexUrl: string, o: CargoOptions): Promise<string> {
  let text: string;
  const sparse = indexUrl.startsWith('sparse+') ? indexUrl.slice('sparse+'.length) : undefined;
  if (sparse) {
    const res = await fetch(new URL('config.json', sparse.endsWith('/') ? sparse : sparse + '/'), { signal: o.signal });
    if (!res.ok) throw new PkgfleetError('E_CARGO_REGISTRY', `${indexUrl}: config.json: HTTP ${res.status}`, 'pass the API URL with --registry-api');
    text = await res.text();
  } else {
    const dir = await mkdtemp(join(tmpdir(), 'pkgfleet-index-'));
    try {
      const r = await runTool('git', ['clone', '--quiet', '--depth', '1', indexUrl.replace(/^registry\+/, ''), join(dir, 'index')], { env: o.env, secrets: o.secrets, logger: o.logger, relay: 'debug', signal: o.signal });
      if (r.code !== 0) throw new PkgfleetError('E_CARGO_REGISTRY', `${indexUrl}: git clone failed: ${tail(r.output)}`, 'pass the API URL with --registry-api');
      text = await readFile(join(dir, 'index', 'config.json'), 'utf8');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const api = (JSON.parse(text) as { api?: string }).api;
  if (!api) throw new PkgfleetError('E_CARGO_REGISTRY', `${indexUrl}: config.json has no "api"`, 'this registry does not take uploads through the web API; pass --registry-api');
  return api;
}
