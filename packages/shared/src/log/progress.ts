import type { Logger } from './logger';

/**
 * Transfer progress: a redrawn bar on a terminal, plain periodic lines in CI logs (where a bar
 * would be thousands of carriage returns).
 */
export interface Progress {
  update(done: number, current?: string): void;
  finish(): void;
}

export interface ProgressOptions {
  total: number;
  label: string;
  logger: Logger;
  /** A terminal to draw on; when absent, periodic log lines. */
  tty?: NodeJS.WriteStream | undefined;
  intervalMs?: number;
  now?: () => number;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function createProgress(opts: ProgressOptions): Progress {
  const now = opts.now ?? (() => Date.now());
  const start = now();
  let last = 0;
  let lastDone = 0;
  const interval = opts.intervalMs ?? (opts.tty ? 100 : 5000);
  const rate = (done: number) => done / Math.max(0.001, (now() - start) / 1000);
  const draw = (done: number, current?: string) => {
    const pct = opts.total ? Math.min(100, (done / opts.total) * 100) : 100;
    if (opts.tty) {
      const width = 30;
      const fill = Math.round((pct / 100) * width);
      const name = current ? ` ${current}`.slice(0, 40) : '';
      opts.tty.write(`\r${opts.label} [${'#'.repeat(fill)}${'-'.repeat(width - fill)}] ${pct.toFixed(0).padStart(3)}% ${formatBytes(done)}/${formatBytes(opts.total)} ${formatBytes(rate(done))}/s${name}\x1b[K`);
    } else {
      opts.logger.info(`${opts.label}: ${pct.toFixed(0)}%`, { bytes: done, total: opts.total, rate: `${formatBytes(rate(done))}/s`, file: current });
    }
  };
  return {
    update(done, current) {
      lastDone = done;
      const t = now();
      if (t - last >= interval) {
        last = t;
        draw(done, current);
      }
    },
    finish() {
      if (opts.tty) {
        draw(lastDone);
        opts.tty.write('\n');
      }
    },
  };
}
