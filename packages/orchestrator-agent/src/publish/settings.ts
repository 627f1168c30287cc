import { defineSchema, type ConfigOf } from '@pkgfleet/shared';

/**
 * Repository settings of the orchestrator config (`/etc/pkgfleet/orchestrator-agent.json`).
 * Flat keys with the `repo` prefix so that the orchestrator's schema can spread them in.
 */
export const repoSchema = defineSchema({
  repoSuites: { type: 'strings', default: ['stable', 'nightly'], describe: 'apt suites / yum channels that --channel may name (e.g. ["stable","nightly"])' },
  repoArchitectures: { type: 'strings', default: ['amd64', 'arm64'], describe: 'Debian architectures of the apt indexes; a package for another one is refused' },
  repoComponent: { type: 'string', default: 'main', describe: 'apt component' },
  repoOrigin: { type: 'string', default: 'pkgfleet', describe: 'Origin: field of the apt Release files' },
  repoLabel: { type: 'string', default: 'pkgfleet', describe: 'Label: field of the apt Release files' },
  repoDescription: { type: 'string', default: 'pkgfleet packages', describe: 'Description: field of the apt Release files' },
  repoRetention: { type: 'number', default: 3, describe: 'newest versions of each package kept per suite' },
  repoValidFor: { type: 'duration', describe: 'if set, Release files carry Valid-Until: Date + this (e.g. 30d written as 720h)' },
  repoKeyName: { type: 'string', default: 'pkgfleet', describe: 'the public key is published as gpg/NAME.asc and gpg/NAME.gpg' },
  repoByHashKeep: { type: 'number', default: 3, describe: 'by-hash generations of each index kept, so clients mid-update still find the files they were promised' },
  repoBaseUrl: { type: 'string', env: 'PKGFLEET_REPO_BASE_URL', describe: 'URL where the served tree (ROOT/current) is published, e.g. https://packages.example.com; the yum .repo files point there (default: file://ROOT/current)' },
  repoXzLevel: { type: 'number', default: 1, describe: 'xz preset (0-9) of Packages.xz: 1 compresses a large index ~7x faster than 6 (liblzma runs as WebAssembly here) for ~10-20% more bytes' },
  repoKeepTrees: { type: 'number', default: 2, describe: 'published trees kept on disk under ROOT/trees (the live one included)' },
});

export type RepoConfig = ConfigOf<typeof repoSchema>;

/** The settings the formats see, validated. */
export interface RepoSettings {
  suites: string[];
  architectures: string[];
  component: string;
  origin: string;
  label: string;
  description: string;
  retention: number;
  /** Milliseconds; Valid-Until = Date + validFor when set. */
  validFor: number | undefined;
  keyName: string;
  byHashKeep: number;
  /** xz preset of Packages.xz. */
  xzLevel: number;
  /** URL of the served tree, for the yum .repo files (undefined: file://ROOT/current). */
  baseUrl?: string | undefined;
}

export function repoSettings(c: RepoConfig): RepoSettings {
  return {
    suites: c.repoSuites,
    architectures: c.repoArchitectures,
    component: c.repoComponent,
    origin: c.repoOrigin,
    label: c.repoLabel,
    description: c.repoDescription,
    retention: Math.max(1, Math.floor(c.repoRetention)),
    validFor: c.repoValidFor,
    keyName: c.repoKeyName,
    byHashKeep: Math.max(1, Math.floor(c.repoByHashKeep)),
    xzLevel: Math.min(9, Math.max(0, Math.floor(c.repoXzLevel))),
    baseUrl: c.repoBaseUrl,
  };
}

export const DEFAULT_SETTINGS: RepoSettings = repoSettings(
  Object.fromEntries(Object.entries(repoSchema).map(([k, f]) => [k, (f as { default?: unknown }).default])) as RepoConfig,
);
