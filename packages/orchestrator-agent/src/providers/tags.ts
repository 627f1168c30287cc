import { UsageError } from '@pkgfleet/shared';

/**
 * How pkgfleet names and tags its machines so that it can always find and delete them.
 *
 * DigitalOcean tag names may hold letters, digits, colons, dashes and underscores (max 255);
 * release and target names may also hold dots. A dot becomes a colon: colons never occur in a
 * release or target, so the mapping is one to one (`v1.2.3` and `v1_2_3` get different tags)
 * and can be reversed to print the release of a machine found by tag alone.
 */
export const FLEET_TAG = 'pkgfleet';
const RELEASE_PREFIX = 'pkgfleet-release:';
const TARGET_PREFIX = 'pkgfleet-target:';

// Same shapes as the protocol accepts (CLI.md: release names [A-Za-z0-9._-]+).
const RELEASE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const TARGET = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/;

export function assertRelease(release: string): void {
  if (!RELEASE.test(release) || release.includes('..')) {
    throw new UsageError(`release ${JSON.stringify(release)} is not a valid release name`, 'use vX.Y.Z[-suffix] or letters, digits, ".", "_" and "-" (at most 128)');
  }
}

export function assertTarget(target: string): void {
  if (!TARGET.test(target) || target.includes('..')) {
    throw new UsageError(`target ${JSON.stringify(target)} is not a valid target name`, 'use names like amd64-deb: letters, digits, ".", "_" and "-" (at most 64)');
  }
}

const toTag = (s: string) => s.replaceAll('.', ':');
const fromTag = (s: string) => s.replaceAll(':', '.');

export function releaseTag(release: string): string {
  assertRelease(release);
  return RELEASE_PREFIX + toTag(release);
}

export function targetTag(target: string): string {
  assertTarget(target);
  return TARGET_PREFIX + toTag(target);
}

export function machineTags(release: string, target: string): string[] {
  return [FLEET_TAG, releaseTag(release), targetTag(target)];
}

/** The release and target a machine was tagged with, or undefined where a tag is missing. */
export function parseMachineTags(tags: readonly string[]): { fleet: boolean; release?: string; target?: string } {
  const out: { fleet: boolean; release?: string; target?: string } = { fleet: tags.includes(FLEET_TAG) };
  for (const t of tags) {
    if (t.startsWith(RELEASE_PREFIX)) out.release = fromTag(t.slice(RELEASE_PREFIX.length));
    else if (t.startsWith(TARGET_PREFIX)) out.target = fromTag(t.slice(TARGET_PREFIX.length));
  }
  return out;
}

/**
 * The droplet name: `pkgfleet-<release>-<target>` under hostname rules (RFC 1123 label:
 * a-z, 0-9 and "-", at most 63, no leading or trailing "-"). It is for people; machines are
 * found by their tags, so a shortened or lossy name is harmless.
 */
export function machineName(release: string, target: string): string {
  assertRelease(release);
  assertTarget(target);
  const clean = (s: string) => s.toLowerCase().replace(/[^a-z0-9-]+/g, '-');
  let name = `pkgfleet-${clean(release)}-${clean(target)}`.replace(/-{2,}/g, '-');
  if (name.length > 63) name = name.slice(0, 63);
  return name.replace(/-+$/, '');
}
