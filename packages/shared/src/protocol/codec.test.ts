import { describe, expect, it } from 'vitest';
import { decode, encode } from './codec';
import { PushSessionMachine } from './session';
import { fileNameProblem } from './names';
import type { MessageOf } from './messages';

const sha = 'a'.repeat(64);

describe('message codec', () => {
  it('round-trips a valid offer', () => {
    const msg: MessageOf<'push.offer'> = { type: 'push.offer', release: 'v1.2.3', target: 'amd64-deb', replace: false, files: [{ name: 'foo_1.0_amd64.deb', size: 10, sha256: sha }] };
    expect(decode(encode(msg))).toEqual(msg);
  });

  it.each([
    ['not JSON', '{nope', /not JSON/],
    ['unknown type', JSON.stringify({ type: 'launch.missiles' }), /malformed message/],
    ['extra field', JSON.stringify({ type: 'heartbeat', seq: 1, extra: true }), /malformed message/],
    ['negative size', JSON.stringify({ type: 'file.begin', name: 'a.deb', size: -1, sha256: sha, offset: 0 }), /at size/],
    ['bad hash', JSON.stringify({ type: 'file.end', name: 'a.deb', sha256: 'xyz' }), /malformed/],
    ['bad hash in an offer', JSON.stringify({ type: 'push.offer', release: 'v1', target: 't', replace: false, files: [{ name: 'a.deb', size: 1, sha256: 'A'.repeat(64) }] }), /64 lower-case hex/],
    ['path traversal', JSON.stringify({ type: 'file.end', name: '../etc/passwd' }), /"\.\.\/etc\/passwd" contains "\/"/],
    ['NUL in name', JSON.stringify({ type: 'file.end', name: 'a\u0000.deb' }), /NUL/],
    ['release with slash', JSON.stringify({ type: 'push.offer', release: 'v1/../x', target: 't', replace: false, files: [{ name: 'a', size: 1, sha256: sha }] }), /release/],
  ])('refuses %s', (_what, text, re) => {
    expect(() => decode(text)).toThrow(re);
  });

  it('refuses a message over the size limit, naming the limit', () => {
    expect(() => decode(JSON.stringify({ type: 'heartbeat', seq: 1 }), 10)).toThrow(/exceeds the limit of 10 bytes \(maxMessageBytes\)/);
  });
});

describe('file names', () => {
  it.each([['..'], ['a/b'], ['.hidden'], ['a\nb'], ['a\u007fb'], [''], ['x'.repeat(300)]])('refuses %j', (name) => {
    expect(fileNameProblem(name)).toBeDefined();
  });
  it.each([['hello_1.0-1_amd64.deb'], ['hello-1.0-1.el9.x86_64.rpm'], ['pkg_1%3a2.0~rc1+b1_all.deb']])('accepts %j', (name) => {
    expect(fileNameProblem(name)).toBeUndefined();
  });
});

describe('push session state machine', () => {
  const scope = { release: 'v1.2.3', target: 'amd64-deb' };
  const limits = { maxFiles: 10, maxFileSize: 1000 };
  const offer = (files = [{ name: 'a.deb', size: 100, sha256: sha }]) => ({ type: 'push.offer' as const, release: 'v1.2.3', target: 'amd64-deb', replace: false, files });

  it('walks offer → begin → data → end', () => {
    const m = new PushSessionMachine(scope, limits);
    m.onOffer(offer());
    m.onBegin({ type: 'file.begin', name: 'a.deb', size: 100, sha256: sha, offset: 40 });
    m.onData(60);
    expect(m.onEnd({ type: 'file.end', name: 'a.deb' })).toMatchObject({ offset: 40, received: 60 });
    m.closeCurrent();
    expect(m.phase).toBe('offered');
  });

  it('refuses another release or target than the credential', () => {
    const m = new PushSessionMachine(scope, limits);
    expect(() => m.onOffer({ ...offer(), release: 'v9.9.9' })).toThrow(/credential is for release v1.2.3 target amd64-deb, not release v9.9.9/);
  });

  it('refuses out-of-order messages', () => {
    const m = new PushSessionMachine(scope, limits);
    expect(() => m.onBegin({ type: 'file.begin', name: 'a.deb', size: 100, sha256: sha, offset: 0 })).toThrow(/before push.offer/);
    expect(() => m.onData(1)).toThrow(/outside file.begin/);
    m.onOffer(offer());
    expect(() => m.onEnd({ type: 'file.end', name: 'a.deb' })).toThrow(/without file.begin/);
    expect(() => m.onBegin({ type: 'file.begin', name: 'b.deb', size: 100, sha256: sha, offset: 0 })).toThrow(/did not list/);
  });

  it('refuses more bytes than announced and a short file', () => {
    const m = new PushSessionMachine(scope, limits);
    m.onOffer(offer());
    m.onBegin({ type: 'file.begin', name: 'a.deb', size: 100, sha256: sha, offset: 0 });
    m.onData(50);
    expect(() => m.onEnd({ type: 'file.end', name: 'a.deb' })).toThrow(/after 50 of 100 bytes/);
    expect(() => m.onData(51)).toThrow(/more bytes than the announced 100/);
  });

  it('protocol 2: takes the digest from file.end when neither the offer nor file.begin had one', () => {
    const m = new PushSessionMachine(scope, limits);
    m.onOffer({ ...offer(), files: [{ name: 'a.deb', size: 100 }] });
    const cur = m.onBegin({ type: 'file.begin', name: 'a.deb', size: 100, offset: 0 });
    expect(cur.sha256).toBeUndefined();
    m.onData(100);
    expect(m.onEnd({ type: 'file.end', name: 'a.deb', sha256: sha }).sha256).toBe(sha);
  });

  it('refuses file.end without any digest, and a digest that contradicts the announced one', () => {
    const m = new PushSessionMachine(scope, limits);
    m.onOffer({ ...offer(), files: [{ name: 'a.deb', size: 100 }] });
    m.onBegin({ type: 'file.begin', name: 'a.deb', size: 100, offset: 0 });
    m.onData(100);
    expect(() => m.onEnd({ type: 'file.end', name: 'a.deb' })).toThrow(/without a sha256/);
    const v1 = new PushSessionMachine(scope, limits);
    v1.onOffer(offer());
    v1.onBegin({ type: 'file.begin', name: 'a.deb', size: 100, sha256: sha, offset: 0 });
    v1.onData(100);
    expect(() => v1.onEnd({ type: 'file.end', name: 'a.deb', sha256: 'b'.repeat(64) })).toThrow(/sha256 different from the one announced/);
    expect(v1.onEnd({ type: 'file.end', name: 'a.deb' }).sha256).toBe(sha);
  });

  it('names the limit it enforces', () => {
    const m = new PushSessionMachine(scope, limits);
    expect(() => m.onOffer(offer([{ name: 'big.deb', size: 1001, sha256: sha }]))).toThrow(/maxFileSize/);
    const many = Array.from({ length: 11 }, (_, i) => ({ name: `f${i}.deb`, size: 1, sha256: sha }));
    expect(() => m.onOffer(offer(many))).toThrow(/maxFiles/);
  });
});
