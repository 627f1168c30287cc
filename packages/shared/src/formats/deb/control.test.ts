import { describe, expect, it } from 'vitest';
import { formatStanza, parseControl, parseStanzas } from './control';

describe('deb822 control parsing', () => {
  it('keeps field order and case, folds continuation lines, round-trips', () => {
    const text = 'Package: foo\nversion: 1.0\nDescription: summary\n long text\n .\n more\nX-Empty-First:\n line one\n';
    const s = parseControl(text);
    expect(s.map((f) => f.name)).toEqual(['Package', 'version', 'Description', 'X-Empty-First']);
    expect(s[2]!.value).toBe('summary\n long text\n .\n more');
    expect(formatStanza(s)).toBe(text);
  });

  it('splits stanzas on blank lines', () => {
    expect(parseStanzas('A: 1\n\n\nB: 2\nC: 3\n').map((s) => s.length)).toEqual([1, 2]);
  });

  it.each([
    [' leading continuation\n', /continuation line without a field/],
    ['Package foo\n', /is not "Field: value"/],
    ['A: 1\na: 2\n', /appears twice/],
    ['A: 1\n\nB: 2\n', /2 stanzas/],
  ])('rejects %j', (text, why) => {
    expect(() => parseControl(text)).toThrow(why);
  });
});
