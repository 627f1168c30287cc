import { contextFor, type Command } from '@pkgfleet/shared';
import { loadRepoAgent } from '../config';
import { listSnapshots } from '../snapshots';

function human(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let n = bytes;
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return `${u === 0 ? n : n.toFixed(1)} ${units[u]}`;
}

export function register(program: Command): void {
  program
    .command('list')
    .description('snapshots on disk, oldest first; * marks the live one')
    .option('--json', 'print one JSON document')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const ctx = contextFor(cmd, 'repo-agent');
      const { store } = loadRepoAgent(ctx);
      const { live, snapshots } = await listSnapshots(store);
      if (opts.json) {
        ctx.stdout(JSON.stringify({ live: live ?? null, snapshots }, null, 2));
        return;
      }
      if (snapshots.length === 0) {
        ctx.stdout('no snapshots');
        return;
      }
      const w = Math.max(2, ...snapshots.map((s) => s.id.length));
      ctx.stdout(`  ${'ID'.padEnd(w)}  ${'CREATED'.padEnd(24)}  ${'FILES'.padStart(7)}  SIZE`);
      for (const s of snapshots) {
        ctx.stdout(`${s.live ? '*' : ' '} ${s.id.padEnd(w)}  ${s.createdAt.padEnd(24)}  ${String(s.files).padStart(7)}  ${human(s.bytes)}`);
      }
    });
}
