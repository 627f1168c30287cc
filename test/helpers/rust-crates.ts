/**
 * Two crates like a real project's `-tools` and `-core` (core depends on tools by path and
 * version), written as sources for the real cargo to package and publish. `registry` names the
 * cargo registry the dependency comes from once published (an alternate registry in tests).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface CratePair {
  tools: string;
  core: string;
  toolsName: string;
  coreName: string;
}

export async function writeCratePair(dir: string, opts: { prefix?: string; version: string; registry?: string }): Promise<CratePair> {
  const prefix = opts.prefix ?? 'demo';
  const toolsName = `${prefix}-tools`;
  const coreName = `${prefix}-core`;
  const tools = join(dir, toolsName);
  const core = join(dir, coreName);
  const pkg = (name: string) => `[package]\nname = "${name}"\nversion = "${opts.version}"\nedition = "2021"\ndescription = "${name} for tests"\nlicense = "MIT"\n`;
  await mkdir(join(tools, 'src'), { recursive: true });
  await mkdir(join(core, 'src'), { recursive: true });
  await writeFile(join(tools, 'Cargo.toml'), pkg(toolsName));
  await writeFile(join(tools, 'src', 'lib.rs'), 'pub fn add(a: u32, b: u32) -> u32 {\n    a + b\n}\n');
  const reg = opts.registry ? `, registry = "${opts.registry}"` : '';
  await writeFile(join(core, 'Cargo.toml'), `${pkg(coreName)}\n[dependencies]\n${toolsName} = { path = "../${toolsName}", version = "${opts.version}"${reg} }\n`);
  await writeFile(join(core, 'src', 'lib.rs'), `pub fn three() -> u32 {\n    ${toolsName.replace(/-/g, '_')}::add(1, 2)\n}\n`);
  return { tools, core, toolsName, coreName };
}

/** A CARGO_HOME that knows the test registry and nothing else (no user config, no credentials). */
export async function writeCargoHome(dir: string, registries: Record<string, string>): Promise<string> {
  const home = join(dir, 'cargo-home');
  await mkdir(home, { recursive: true });
  const body = Object.entries(registries)
    .map(([name, index]) => `[registries.${name}]\nindex = "${index}"\n`)
    .join('\n');
  await writeFile(join(home, 'config.toml'), `${body}\n[net]\nretry = 0\n`);
  return home;
}
