/**
 * A crate as `cargo metadata --no-deps --format-version 1` describes it (cargo has already applied
 * workspace inheritance, renames and targets), reduced to what publishing needs.
 */
import { FormatError } from '@pkgfleet/shared';

export interface CrateDependency {
  /** The package name (not the `rename`). */
  name: string;
  req: string;
  kind: 'normal' | 'dev' | 'build';
  /** Index URL of the registry it comes from; null = crates.io. */
  registry: string | null;
  /** Set for path dependencies. */
  path: string | null;
}

export interface CrateManifest {
  name: string;
  version: string;
  manifestPath: string;
  /** `publish` from the manifest: null = anywhere, [] = `publish = false`, else the allowed registries. */
  publish: string[] | null;
  dependencies: CrateDependency[];
}

interface MetadataPackage {
  name: string;
  version: string;
  manifest_path: string;
  publish: string[] | null;
  dependencies: Array<{ name: string; req: string; kind: string | null; registry?: string | null; path?: string | null }>;
}

/** Pick the package whose manifest is `manifestPath` out of `cargo metadata` output. */
export function crateFromMetadata(json: string, manifestPath: string): CrateManifest {
  let doc: { packages?: MetadataPackage[] };
  try {
    doc = JSON.parse(json) as { packages?: MetadataPackage[] };
  } catch (err) {
    throw new FormatError('E_CARGO_METADATA', `${manifestPath}: cargo metadata printed something that is not JSON`, undefined, { cause: err });
  }
  const pkg = doc.packages?.find((p) => p.manifest_path === manifestPath);
  if (!pkg) {
    throw new FormatError('E_CARGO_METADATA', `${manifestPath}: cargo metadata lists no package with this manifest`, 'give the directory of a crate (holding its Cargo.toml), not of a virtual workspace');
  }
  return {
    name: pkg.name,
    version: pkg.version,
    manifestPath: pkg.manifest_path,
    publish: pkg.publish ?? null,
    dependencies: pkg.dependencies.map((d) => ({
      name: d.name,
      req: d.req,
      kind: d.kind === 'dev' || d.kind === 'build' ? d.kind : 'normal',
      registry: d.registry ?? null,
      path: d.path ?? null,
    })),
  };
}

/**
 * Does publishing `dep` need the crate it names to be in the registry first? cargo strips
 * dev-dependencies that have only a path (`req` "*"); every other dependency is written into the
 * published manifest and must resolve.
 */
export function needsPublishedDependency(dep: CrateDependency): boolean {
  return !(dep.kind === 'dev' && dep.path !== null && dep.req === '*');
}
