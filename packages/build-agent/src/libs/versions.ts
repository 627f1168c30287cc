/**
 * Release tags and the versions of what a release uploads: `v1.2.3` → crates `1.2.3` (SemVer,
 * compared exactly) and Python files `1.2.3` (PEP 440, compared after normalization, so that
 * `v1.2.3-rc1` matches a wheel built as `1.2.3rc1`).
 */
import { UsageError } from '@pkgfleet/shared';

/** `v1.2.3` → `1.2.3`; `v1.2.3-rc.1` → `1.2.3-rc.1`. */
export function releaseVersion(release: string): string {
  const m = /^v?(\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?)$/.exec(release);
  if (!m) {
    throw new UsageError(`--release ${JSON.stringify(release)} is not a release tag like v1.2.3`, 'library versions are checked against the tag; pass --no-version-check for other names');
  }
  return m[1]!;
}

// PEP 440 appendix B's regex, with the implicit spellings canonicalized below.
const PEP440 =
  /^v?(?:(\d+)!)?(\d+(?:\.\d+)*)(?:[-_.]?(a|b|c|rc|alpha|beta|pre|preview)[-_.]?(\d+)?)?(?:-(\d+)|[-_.]?(post|rev|r)[-_.]?(\d+)?)?(?:[-_.]?(dev)[-_.]?(\d+)?)?(?:\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?$/;
const PRE: Record<string, string> = { a: 'a', alpha: 'a', b: 'b', beta: 'b', c: 'rc', rc: 'rc', pre: 'rc', preview: 'rc' };

/** The normalized form of a PEP 440 version (`1.2.3-RC.1` → `1.2.3rc1`), or undefined if it is not one. */
export function normalizePep440(version: string): string | undefined {
  const m = PEP440.exec(version.trim().toLowerCase());
  if (!m) return undefined;
  const [, epoch, release, pre, preN, postImplicit, post, postN, dev, devN, local] = m;
  let out = epoch && Number(epoch) !== 0 ? `${Number(epoch)}!` : '';
  out += release!.split('.').map((n) => String(Number(n))).join('.');
  if (pre) out += `${PRE[pre]}${Number(preN ?? 0)}`;
  if (postImplicit !== undefined) out += `.post${Number(postImplicit)}`;
  else if (post) out += `.post${Number(postN ?? 0)}`;
  if (dev) out += `.dev${Number(devN ?? 0)}`;
  if (local) out += `+${local.replace(/[-_]/g, '.')}`;
  return out;
}

/** PEP 440 equality: normalized, and `1.2` == `1.2.0`. */
export function samePep440(a: string, b: string): boolean {
  const na = normalizePep440(a);
  const nb = normalizePep440(b);
  if (na === undefined || nb === undefined) return false;
  const key = (v: string) => v.replace(/^((?:\d+!)?\d+(?:\.\d+)*?)(?:\.0+)+(?=$|[a-z+])/, '$1');
  return key(na) === key(nb);
}
