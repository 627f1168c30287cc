/**
 * Debian version numbers: parsing and ordering exactly as dpkg does (deb-version(5),
 * dpkg's lib/dpkg/version.c: verrevcmp).
 *   [epoch:]upstream_version[-debian_revision]
 * `~` sorts before everything, even the end of the string; letters sort before non-letters.
 */
export interface DebVersion {
  epoch: number;
  upstream: string;
  revision: string;
}

/** Why `text` is not a valid Debian version, or undefined if it is. */
export function versionProblem(text: string): string | undefined {
  if (text.length === 0) return 'empty version';
  if (/\s/.test(text)) return 'version contains whitespace';
  const colon = text.indexOf(':');
  if (colon >= 0) {
    const epoch = text.slice(0, colon);
    if (!/^[0-9]+$/.test(epoch)) return `epoch "${epoch}" is not a number`;
    if (Number(epoch) > 2 ** 31 - 1) return `epoch ${epoch} is too big`;
  }
  const rest = text.slice(colon + 1);
  const dash = rest.lastIndexOf('-');
  const upstream = dash >= 0 ? rest.slice(0, dash) : rest;
  const revision = dash >= 0 ? rest.slice(dash + 1) : '';
  if (upstream.length === 0) return 'empty upstream version';
  if (!/^[0-9]/.test(upstream)) return `upstream version "${upstream}" does not start with a digit`;
  if (!/^[A-Za-z0-9.+~:-]+$/.test(upstream)) return `upstream version "${upstream}" has characters other than A-Za-z0-9.+~-:`;
  if (dash >= 0 && revision.length === 0) return 'empty revision after "-"';
  if (!/^[A-Za-z0-9.+~]*$/.test(revision)) return `revision "${revision}" has characters other than A-Za-z0-9.+~`;
  return undefined;
}

/** Parse a version; throws an Error with the reason if it is not valid. */
export function parseVersion(text: string): DebVersion {
  const problem = versionProblem(text);
  if (problem) throw new Error(`invalid version "${text}": ${problem}`);
  const colon = text.indexOf(':');
  const rest = text.slice(colon + 1);
  const dash = rest.lastIndexOf('-');
  return {
    epoch: colon >= 0 ? Number(text.slice(0, colon)) : 0,
    upstream: dash >= 0 ? rest.slice(0, dash) : rest,
    revision: dash >= 0 ? rest.slice(dash + 1) : '',
  };
}

const isDigit = (c: number) => c >= 48 && c <= 57;
const isAlpha = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

/** dpkg's order(): ~ < end of string < letters < everything else. */
function order(c: number | undefined): number {
  if (c === undefined) return 0;
  if (isDigit(c)) return 0;
  if (isAlpha(c)) return c;
  if (c === 126 /* ~ */) return -1;
  return c + 256;
}

function verrevcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    while ((i < a.length && !isDigit(a.charCodeAt(i))) || (j < b.length && !isDigit(b.charCodeAt(j)))) {
      const ac = order(i < a.length ? a.charCodeAt(i) : undefined);
      const bc = order(j < b.length ? b.charCodeAt(j) : undefined);
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    while (a.charCodeAt(i) === 48) i++;
    while (b.charCodeAt(j) === 48) j++;
    while (i < a.length && isDigit(a.charCodeAt(i)) && j < b.length && isDigit(b.charCodeAt(j))) {
      if (!firstDiff) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (i < a.length && isDigit(a.charCodeAt(i))) return 1;
    if (j < b.length && isDigit(b.charCodeAt(j))) return -1;
    if (firstDiff) return firstDiff;
  }
  return 0;
}

/** < 0 if a sorts before b, 0 if equal, > 0 after; like `dpkg --compare-versions`. */
export function compareVersions(a: string | DebVersion, b: string | DebVersion): number {
  const va = typeof a === 'string' ? parseVersion(a) : a;
  const vb = typeof b === 'string' ? parseVersion(b) : b;
  if (va.epoch !== vb.epoch) return va.epoch > vb.epoch ? 1 : -1;
  const u = verrevcmp(va.upstream, vb.upstream);
  if (u) return u > 0 ? 1 : -1;
  const r = verrevcmp(va.revision, vb.revision);
  return r > 0 ? 1 : r < 0 ? -1 : 0;
}
