import { describe, expect, it } from 'vitest';
import { createLogger } from './logger';
import { createProgress } from './progress';

describe('logging', () => {
  it('writes JSON lines with time, level, message and fields', () => {
    const lines: string[] = [];
    const log = createLogger({ format: 'json', write: (l) => lines.push(l), now: () => new Date('2026-01-01T00:00:00Z') });
    log.child({ release: 'v1' }).info('file landed', { bytes: 3 });
    expect(JSON.parse(lines[0]!)).toEqual({ time: '2026-01-01T00:00:00.000Z', level: 'info', msg: 'file landed', release: 'v1', bytes: 3 });
  });

  it('writes aligned text for terminals, level prefix for warnings', () => {
    const lines: string[] = [];
    const log = createLogger({ format: 'text', write: (l) => lines.push(l) });
    log.info('pushing', { files: 2, url: 'wss://h:1' });
    log.warn('retrying in 1 s', { reason: 'connection reset' });
    expect(lines).toEqual(['pushing  files=2 url=wss://h:1', 'warn: retrying in 1 s  reason="connection reset"']);
  });

  it('never prints a secret it was told about', () => {
    const lines: string[] = [];
    const log = createLogger({ format: 'json', write: (l) => lines.push(l), secrets: ['tok-123456'] });
    log.error('registry said: bad token tok-123456', { header: 'Bearer tok-123456' });
    expect(lines[0]).not.toContain('tok-123456');
    expect(lines[0]).toContain('***');
  });
});

describe('progress', () => {
  it('redraws one line on a terminal', () => {
    let out = '';
    const tty = { write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream;
    let t = 0;
    const p = createProgress({ total: 100, label: 'push', logger: createLogger({ write: () => {} }), tty, now: () => (t += 200) });
    p.update(50, 'a.deb');
    p.finish();
    expect(out).toContain('\rpush [###############---------------]  50%');
    expect(out.endsWith('\n')).toBe(true);
  });

  it('logs plain periodic lines when there is no terminal (CI logs)', () => {
    const lines: string[] = [];
    let t = 0;
    const p = createProgress({ total: 100, label: 'push', logger: createLogger({ format: 'json', write: (l) => lines.push(l) }), now: () => t, intervalMs: 5000 });
    t = 6000;
    p.update(30);
    t = 7000;
    p.update(40);
    t = 12_000;
    p.update(90);
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['push: 30%', 'push: 90%']);
  });
});
