/**
 * Settings of `crates publish` and `pypi upload`, part of the build agent's config
 * (spread into buildAgentSchema). Tokens are never settings: only the files that hold them.
 */
import { defineSchema } from '@pkgfleet/shared';

export const libsConfigFields = defineSchema({
  cratesRegistry: { type: 'string', describe: 'cargo registry name for crates publish (--registry; default crates.io)' },
  cratesIndex: { type: 'string', describe: "index URL of that registry (sparse+https://… or a git URL), given to cargo as CARGO_REGISTRIES_<NAME>_INDEX" },
  cratesApi: { type: 'string', describe: "web API of that registry (default https://crates.io, else the index's config.json \"api\")" },
  cratesTokenFile: { type: 'string', describe: 'file holding the crates registry token (else $CARGO_REGISTRIES_<NAME>_TOKEN / $CARGO_REGISTRY_TOKEN)' },
  cratesIndexTimeout: { type: 'duration', default: 600_000, describe: 'how long a published crate may take to appear in the index before its dependents fail' },
  cargo: { type: 'string', env: 'PKGFLEET_CARGO', default: 'cargo', describe: 'cargo executable' },
  pypiRepositoryUrl: { type: 'string', env: 'TWINE_REPOSITORY_URL', default: 'https://upload.pypi.org/legacy/', describe: 'upload URL for pypi upload (TestPyPI: https://test.pypi.org/legacy/)' },
  pypiJsonUrl: { type: 'string', describe: 'base URL of the JSON API (default https://pypi.org for PyPI, https://test.pypi.org for TestPyPI, else the upload URL\'s origin)' },
  pypiTokenFile: { type: 'string', describe: 'file holding the PyPI API token (else $TWINE_PASSWORD / $PYPI_TOKEN)' },
  twine: { type: 'string', env: 'PKGFLEET_TWINE', default: 'twine', describe: 'twine executable' },
  registryRetries: { type: 'number', default: 5, describe: 'retries of a registry request or upload after 429, 5xx or a network error' },
  registryRetryDelay: { type: 'duration', default: 2000, describe: 'first delay of those retries (doubles each time, at most 60s; a Retry-After wins)' },
});
