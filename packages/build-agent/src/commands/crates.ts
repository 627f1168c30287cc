import { contextFor, createLogger, UsageError, AuthError, type Command } from '@pkgfleet/shared';
import type { CargoOptions } from '../libs/cargo';

interface Opts {
  release?: string;
  dryRun?: boolean;
  versionCheck: boolean;
  tokenFile?: string;
  registry?: string;
  index?: string;
  registryApi?: string;
  indexTimeout?: string;
  verify: boolean;
  allowDirty?: boolean;
  json?: boolean;
}

/** cargo's environment: no inherited registry tokens, only the one for the registry we publish to. */
function cargoEnv(tokenVar: string, token: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (k !== 'CARGO_REGISTRY_TOKEN' && !/^CARGO_REGISTRIES_.*_TOKEN$/.test(k)) env[k] = v;
  return { ...env, ...extra, [tokenVar]: token, CARGO_TERM_COLOR: 'never', CARGO_TERM_PROGRESS_WHEN: 'never' };
}

export function register(program: Command): void {
  const crates = program.command('crates').description('Rust crates of a release (run on the amd64-deb build machine)');
  crates
    .command('publish')
    .description('cargo publish each crate in dependency order, skipping versions the registry has; safe to re-run')
    .argument('<crate-dir...>', 'directories of the crates (each with its Cargo.toml), in any order')
    .option('--release <tag>', 'release tag, e.g. v1.2.3 (default from config / $PKGFLEET_RELEASE)')
    .option('--dry-run', 'check versions, order and token, say what would be published, publish nothing')
    .option('--no-version-check', 'do not require crate versions to equal the release tag')
    .option('--token-file <file>', 'file holding the registry token (else $CARGO_REGISTRY_TOKEN, or $CARGO_REGISTRIES_<NAME>_TOKEN)')
    .option('--registry <name>', 'cargo registry to publish to (default crates.io)')
    .option('--index <url>', 'index URL of --registry, if cargo is not configured with it')
    .option('--registry-api <url>', "registry web API (default https://crates.io, or the index's config.json \"api\")")
    .option('--index-timeout <duration>', 'how long a published crate may take to appear in the index (default 10m)')
    .option('--no-verify', 'cargo publish --no-verify: do not build the packaged crate first')
    .option('--allow-dirty', 'cargo publish --allow-dirty: allow uncommitted changes in the crate directories')
    .option('--json', 'print the summary as one JSON document')
    .action(async (dirs: string[], opts: Opts, cmd: Command) => {
      const ctx = contextFor(cmd, 'build-agent');
      // Loaded when the command runs, not at start-up (see orchestrator-agent's cli.ts).
      const [{ loadBuildAgentConfig }, { indexApiUrl, publish, readCrate, registryEnvName, registryIndexUrl, visibleInIndex }, { CRATES_IO_API, cratesApi }, { publishCrates }, { finish }, { maskError, resolveToken, secretForms }] = await Promise.all([
        import('../config'), import('../libs/cargo'), import('../libs/crates-api'), import('../libs/crates-publish'), import('../libs/report'), import('../libs/secrets'),
      ]);
      let secrets: string[] = [];
      try {
        const { config } = loadBuildAgentConfig(ctx, {
          cratesRegistry: opts.registry,
          cratesIndex: opts.index,
          cratesApi: opts.registryApi,
          cratesIndexTimeout: opts.indexTimeout,
        });
        const release = opts.release ?? config.release;
        if (!release) throw new UsageError('no release given', 'pass --release v1.2.3 (or set "release" in the config)');
        const registry = config.cratesRegistry === 'crates-io' ? undefined : config.cratesRegistry;
        if (config.cratesIndex && !registry) throw new UsageError('--index needs --registry', 'name the registry the crates are published to, e.g. --registry my-registry --index sparse+https://…');
        const tokenVar = registry ? registryEnvName(registry, 'TOKEN') : 'CARGO_REGISTRY_TOKEN';
        const token = await resolveToken({ flagFile: opts.tokenFile, envNames: [...new Set([tokenVar, 'CARGO_REGISTRY_TOKEN'])], configFile: config.cratesTokenFile, logger: ctx.logger });
        if (!token) throw new AuthError('E_NO_TOKEN', `no token for the ${registry ?? 'crates.io'} registry`, `set $${tokenVar} or pass --token-file FILE (a file holding the token alone)`);
        secrets = secretForms(token.value);
        const logger = createLogger({ format: ctx.logFormat, secrets });
        logger.info(`crates registry token from ${token.source}`);

        const cargo: CargoOptions = {
          cargo: config.cargo,
          registry,
          env: cargoEnv(tokenVar, token.value, registry && config.cratesIndex ? { [registryEnvName(registry, 'INDEX')]: config.cratesIndex } : {}),
          secrets,
          logger,
          signal: ctx.signal,
        };
        let api = config.cratesApi;
        if (!api && registry) api = await indexApiUrl(config.cratesIndex ?? (await registryIndexUrl(dirs[0] ?? '.', { ...cargo, registry })), cargo);
        api ??= CRATES_IO_API;
        const client = cratesApi({
          api,
          retries: config.registryRetries,
          signal: ctx.signal,
          onRetry: (i) => logger.warn(`registry API answered ${i.reason}, retrying in ${Math.round(i.delayMs / 100) / 10}s`, { url: i.url }),
        });
        const summary = await publishCrates(
          {
            release,
            dirs,
            versionCheck: opts.versionCheck,
            dryRun: opts.dryRun ?? false,
            registry,
            indexTimeoutMs: config.cratesIndexTimeout,
            indexPollMs: 1000,
            publishRetries: config.registryRetries,
            retryBaseMs: config.registryRetryDelay,
            logger,
            signal: ctx.signal,
          },
          {
            readCrate: (dir) => readCrate(dir, cargo),
            versionExists: (name, version) => client.versionExists(name, version),
            publish: (crate) => publish(crate, { verify: opts.verify, allowDirty: opts.allowDirty ?? false }, cargo),
            visible: (deps, cwd) => visibleInIndex(deps, cwd, cargo),
          },
        );
        finish(summary, { json: opts.json ?? false, stdout: ctx.stdout, secrets });
      } catch (err) {
        throw maskError(err, secrets);
      }
    });
}
