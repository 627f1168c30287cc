/**
 * rpm version comparison: rpmvercmp (rpm's rpmio/rpmvercmp.c) and EVR ordering
 * (epoch, then version, then release), as rpm and dnf order packages.
 */

function isAlpha(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}
function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
function isAlnum(c: number): boolean {
  return isAlpha(c) || isDigit(c);
}

const TILDE = 0x7e;
const CARET = 0x5e;

/** -1, 0 or 1 as rpmvercmp(a, b). `~` sorts before anything, `^` after the base but before more. */
export function rpmvercmp(a: string, b: string): number {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    // skip separators: anything that is not alphanumeric, ~ or ^
    while (i < a.length && !isAlnum(a.charCodeAt(i)) && a.charCodeAt(i) !== TILDE && a.charCodeAt(i) !== CARET) i++;
    while (j < b.length && !isAlnum(b.charCodeAt(j)) && b.charCodeAt(j) !== TILDE && b.charCodeAt(j) !== CARET) j++;

    // ~ sorts before everything, even the end of the string
    const ta = a.charCodeAt(i) === TILDE;
    const tb = b.charCodeAt(j) === TILDE;
    if (ta || tb) {
      if (!ta) return 1;
      if (!tb) return -1;
      i++;
      j++;
      continue;
    }
    // ^ sorts after the end of the string but before anything else
    const ca = a.charCodeAt(i) === CARET;
    const cb = b.charCodeAt(j) === CARET;
    if (ca || cb) {
      if (i >= a.length) return -1;
      if (j >= b.length) return 1;
      if (!ca) return 1;
      if (!cb) return -1;
      i++;
      j++;
      continue;
    }
    if (i >= a.length || j >= b.length) break;

    const numeric = isDigit(a.charCodeAt(i));
    const test = numeric ? isDigit : isAlpha;
    const si = i;
    const sj = j;
    while (i < a.length && test(a.charCodeAt(i))) i++;
    while (j < b.length && test(b.charCodeAt(j))) j++;
    let sa = a.slice(si, i);
    let sb = b.slice(sj, j);
    // a numeric segment is newer than an alpha one
    if (sb.length === 0) return numeric ? 1 : -1;
    if (numeric) {
      sa = sa.replace(/^0+/, '');
      sb = sb.replace(/^0+/, '');
      if (sa.length !== sb.length) return sa.length > sb.length ? 1 : -1;
    }
    if (sa !== sb) return sa < sb ? -1 : 1;
  }
  if (i >= a.length && j >= b.length) return 0;
  // the one with segments left is newer
  return i >= a.length ? -1 : 1;
}

export interface Evr {
  epoch: number;
  version: string;
  release: string;
}

/** Order two packages' epoch:version-release as rpm does (a missing epoch is 0). */
export function compareEvr(a: Evr, b: Evr): number {
  if (a.epoch !== b.epoch) return a.epoch < b.epoch ? -1 : 1;
  return rpmvercmp(a.version, b.version) || rpmvercmp(a.release, b.release);
}

/** Parse `[E:]V[-R]` (the form of dependency versions in rpm headers). */
export function parseEvr(s: string): { epoch: string | undefined; version: string; release: string | undefined } {
  const colon = s.indexOf(':');
  let epoch: string | undefined;
  let rest = s;
  if (colon >= 0 && /^\d*$/.test(s.slice(0, colon))) {
    epoch = s.slice(0, colon);
    rest = s.slice(colon + 1);
  }
  const dash = rest.lastIndexOf('-');
  if (dash < 0) return { epoch, version: rest, release: undefined };
  return { epoch, version: rest.slice(0, dash), release: rest.slice(dash + 1) };
}
