/**
 * deb822 control data (deb-control(5), Debian Policy 5.1): fields in the order and case the
 * file has them; a line starting with a space or tab continues the previous field; `#` lines
 * (only in source control files) are not expected in binary packages and are rejected.
 */
export interface Field {
  name: string;
  /** The value as written: first line without leading blanks, continuation lines kept verbatim. */
  value: string;
}

export type Stanza = Field[];

export class ControlSyntaxError extends Error {}

/** Parse one stanza (a binary package's DEBIAN/control). */
export function parseControl(text: string): Stanza {
  const stanzas = parseStanzas(text);
  if (stanzas.length !== 1) throw new ControlSyntaxError(stanzas.length === 0 ? 'no fields' : `${stanzas.length} stanzas where one was expected`);
  return stanzas[0]!;
}

/** Parse a file of stanzas separated by blank lines (Packages, Release). */
export function parseStanzas(text: string): Stanza[] {
  const out: Stanza[] = [];
  let cur: Stanza = [];
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!;
    if (line.trim() === '') {
      if (cur.length) out.push(cur);
      cur = [];
      continue;
    }
    if (line[0] === ' ' || line[0] === '\t') {
      const last = cur[cur.length - 1];
      if (!last) throw new ControlSyntaxError(`line ${n + 1}: continuation line without a field before it`);
      last.value += '\n' + line.trimEnd();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new ControlSyntaxError(`line ${n + 1}: "${line.slice(0, 40)}" is not "Field: value"`);
    const name = line.slice(0, colon);
    if (!/^[!-9;-~][!-9;-~]*$/.test(name) || name[0] === '#' || name[0] === '-') {
      throw new ControlSyntaxError(`line ${n + 1}: bad field name "${name}"`);
    }
    if (cur.some((f) => f.name.toLowerCase() === name.toLowerCase())) {
      throw new ControlSyntaxError(`line ${n + 1}: field "${name}" appears twice`);
    }
    cur.push({ name, value: line.slice(colon + 1).trim() });
  }
  if (cur.length) out.push(cur);
  return out;
}

/** Field lookup, case-insensitive as deb822 field names are. */
export function fieldValue(stanza: Stanza, name: string): string | undefined {
  const lower = name.toLowerCase();
  return stanza.find((f) => f.name.toLowerCase() === lower)?.value;
}

/** One stanza as text, fields in the given order, ending with a newline (no blank line). */
export function formatStanza(stanza: Stanza): string {
  let s = '';
  for (const f of stanza) s += f.value.startsWith('\n') ? `${f.name}:${f.value}\n` : `${f.name}: ${f.value}\n`;
  return s;
}
