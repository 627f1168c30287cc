import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@pkgfleet/shared';

/**
 * Build machines that registered (`build-agent serve`), one file per release/target, so that
 * `machines create --wait` (another process) can see who came. lastSeen follows heartbeats.
 */
export interface Registration {
  release: string;
  target: string;
  hostname: string;
  peer: string;
  credentialId: string;
  agentVersion: string;
  registeredAt: string;
  lastSeen: string;
  connected: boolean;
}

export class Registrations {
  constructor(readonly dir: string) {}

  private path(release: string, target: string): string {
    return join(this.dir, release, `${target}.json`);
  }

  async write(reg: Registration): Promise<void> {
    await writeFileAtomic(this.path(reg.release, reg.target), JSON.stringify(reg, null, 2) + '\n');
  }

  async read(release: string, target: string): Promise<Registration | undefined> {
    try {
      return JSON.parse(await readFile(this.path(release, target), 'utf8')) as Registration;
    } catch {
      return undefined;
    }
  }

  async list(release: string): Promise<Registration[]> {
    const names = await readdir(join(this.dir, release)).catch(() => [] as string[]);
    const out: Registration[] = [];
    for (const n of names.filter((n) => n.endsWith('.json')).sort()) {
      const r = await this.read(release, n.slice(0, -5));
      if (r) out.push(r);
    }
    return out;
  }
}
