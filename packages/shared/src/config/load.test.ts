import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from './load';
import { defineSchema } from './schema';

const schema = defineSchema({
  listen: { type: 'string', env: 'T_LISTEN', default: '0.0.0.0:7443', describe: 'address' },
  retries: { type: 'number', env: 'T_RETRIES', default: 8, describe: 'attempts' },
  timeout: { type: 'duration', env: 'T_TIMEOUT', default: 1000, describe: 'deadline' },
  targets: { type: 'strings', default: [], describe: 'targets' },
});

const dirs: string[] = [];
function configFile(content: string): string {
  const d = mkdtempSync(join(tmpdir(), 'pkgfleet-config-'));
  dirs.push(d);
  const p = join(d, 'agent.json');
  writeFileSync(p, content);
  return p;
}
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('config loading: flag > environment > file > default', () => {
  it('takes each setting from the strongest source that has it', () => {
    const path = configFile(JSON.stringify({ listen: '10.0.0.1:1', retries: 3, timeout: '30s' }));
    const { config } = loadConfig(schema, { path, defaultPath: '/nonexistent', env: { T_RETRIES: '5' }, flags: { listen: '127.0.0.1:9' } });
    expect(config).toEqual({ listen: '127.0.0.1:9', retries: 5, timeout: 30_000, targets: [] });
  });

  it('uses defaults when the default config file does not exist', () => {
    const { config, file } = loadConfig(schema, { defaultPath: '/nonexistent/agent.json', env: {} });
    expect(file).toBeUndefined();
    expect(config.listen).toBe('0.0.0.0:7443');
  });

  it('names the file and the problem: missing named file, bad JSON, unknown key, wrong type', () => {
    expect(() => loadConfig(schema, { path: '/nonexistent/x.json', defaultPath: '/d', env: {} })).toThrow(/config file \/nonexistent\/x.json: does not exist/);
    expect(() => loadConfig(schema, { path: configFile('{nope'), defaultPath: '/d', env: {} })).toThrow(/not valid JSON/);
    expect(() => loadConfig(schema, { path: configFile('{"lisen": "x"}'), defaultPath: '/d', env: {} })).toThrow(/unknown setting "lisen"/);
    expect(() => loadConfig(schema, { path: configFile('{"retries": "many"}'), defaultPath: '/d', env: {} })).toThrow(/config file .*: "retries" must be a number, got "many"/);
    expect(() => loadConfig(schema, { defaultPath: '/d', env: { T_TIMEOUT: 'soon' } })).toThrow(/\$T_TIMEOUT: "timeout" must be a duration/);
    expect(() => loadConfig(schema, { defaultPath: '/d', env: {}, flags: { retries: 'x' } })).toThrow(/--retries: "retries" must be a number/);
  });

  it('reads the file named by $PKGFLEET_CONFIG', () => {
    const path = configFile(JSON.stringify({ retries: 2 }));
    expect(loadConfig(schema, { defaultPath: '/d', env: { PKGFLEET_CONFIG: path } }).config.retries).toBe(2);
  });
});
