import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { AuthError, contextFor, createLogger, FormatError, UsageError, type Command } from '@pkgfleet/shared';

interface Opts {
  release?: string;
  dryRun?: boolean;
  versionCheck: boolean;
  tokenFile?: string;
  repositoryUrl?: string;
  jsonUrl?: string;
  json?: boolean;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch (err) {
    throw new FormatError('E_PYPI_FILE', `${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'build the module first; give the wheel and sdist paths', { cause: err });
  }
  return hash.digest('hex');
}

export function register(program: Command): void {
  const pypi = program.command('pypi').description('the Python module of a release (run on the amd64-deb build machine)');
  pypi
    .command('upload')
    .description('twine upload each wheel and sdist, skipping files the index has; safe to re-run')
    .argument('<file...>', 'wheels (.whl) and sdists (.tar.gz)')
    .option('--release <tag>', 'release tag, e.g. v1.2.3 (default from config / $PKGFLEET_RELEASE)')
    .option('--dry-run', 'check versions, files and token, say what would be uploaded, upload nothing')
    .option('--no-version-check', 'do not require file versions to equal the release tag')
    .option('--token-file <file>', 'file holding the API token (else $TWINE_PASSWORD or $PYPI_TOKEN)')
    .option('--repository-url <url>', 'upload URL (default https://upload.pypi.org/legacy/; TestPyPI: https://test.pypi.org/legacy/)')
    .option('--json-url <url>', "base URL of the index's JSON API (default: derived from the upload URL)")
    .option('--json', 'print the summary as one JSON document')
    .action(async (files: string[], opts: Opts, cmd: Command) => {
      const ctx = contextFor(cmd, 'build-agent');
      // Loaded when the command runs, not at start-up (see orchestrator-agent's cli.ts).
      const [{ loadBuildAgentConfig }, { jsonUrlFor, pypiApi }, { uploadDists }, { finish }, { maskError, resolveToken, secretForms }, { twineUpload }] = await Promise.all([
        import('../config'), import('../libs/pypi-api'), import('../libs/pypi-upload'), import('../libs/report'), import('../libs/secrets'), import('../libs/twine'),
      ]);
      let secrets: string[] = [];
      try {
        const { config } = loadBuildAgentConfig(ctx, { pypiRepositoryUrl: opts.repositoryUrl, pypiJsonUrl: opts.jsonUrl });
        const release = opts.release ?? config.release;
        if (!release) throw new UsageError('no release given', 'pass --release v1.2.3 (or set "release" in the config)');
        try {
          new URL(config.pypiRepositoryUrl);
        } catch {
          throw new UsageError(`--repository-url ${JSON.stringify(config.pypiRepositoryUrl)} is not a URL`);
        }
        const token = await resolveToken({ flagFile: opts.tokenFile, envNames: ['TWINE_PASSWORD', 'PYPI_TOKEN'], configFile: config.pypiTokenFile, logger: ctx.logger });
        if (!token) throw new AuthError('E_NO_TOKEN', `no API token for ${config.pypiRepositoryUrl}`, 'set $TWINE_PASSWORD or $PYPI_TOKEN, or pass --token-file FILE (a file holding the token alone)');
        secrets = secretForms(token.value, process.env.TWINE_USERNAME || '__token__');
        const logger = createLogger({ format: ctx.logFormat, secrets });
        logger.info(`PyPI token from ${token.source}`, { repository: config.pypiRepositoryUrl });
        const api = pypiApi({
          jsonUrl: config.pypiJsonUrl ?? jsonUrlFor(config.pypiRepositoryUrl),
          retries: config.registryRetries,
          baseDelayMs: config.registryRetryDelay,
          signal: ctx.signal,
          onRetry: (i) => logger.warn(`PyPI JSON API answered ${i.reason}, retrying in ${Math.round(i.delayMs / 100) / 10}s`, { url: i.url }),
        });
        const summary = await uploadDists(
          {
            release,
            files,
            versionCheck: opts.versionCheck,
            dryRun: opts.dryRun ?? false,
            retries: config.registryRetries,
            retryBaseMs: config.registryRetryDelay,
            logger,
            signal: ctx.signal,
          },
          {
            sha256: sha256File,
            releaseFiles: (project, version) => api.releaseFiles(project, version),
            upload: (path) => twineUpload(path, { twine: config.twine, repositoryUrl: config.pypiRepositoryUrl, token: token.value, secrets, logger, signal: ctx.signal }),
          },
        );
        finish(summary, { json: opts.json ?? false, stdout: ctx.stdout, secrets });
      } catch (err) {
        throw maskError(err, secrets);
      }
    });
}
