/**
 * XML escaping as createrepo_c writes repodata (libxml2): `& < >` in text, and `"` plus
 * tab/newline/CR as character references in attributes. Control characters that XML 1.0
 * forbids are dropped, as createrepo_c's cr_latin1_to_utf8 drops them.
 */

// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g;
const TEXT = /[&<>\r]/g;
const ATTR = /[&<>"\t\n\r]/g;
const REPL: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  '\t': '&#9;',
  '\n': '&#10;',
  '\r': '&#13;',
};

export function escapeText(s: string): string {
  return s.replace(FORBIDDEN, '').replace(TEXT, (c) => REPL[c]!);
}

export function escapeAttr(s: string): string {
  return s.replace(FORBIDDEN, '').replace(ATTR, (c) => REPL[c]!);
}

/** `<tag>text</tag>`, or `<tag></tag>` for an empty value (createrepo_c writes both tags). */
export function textElement(tag: string, value: string): string {
  return `<${tag}>${escapeText(value)}</${tag}>`;
}
