// Small helpers for the build scripts: failures that name their step, child processes, hashes.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, existsSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';

/** A build failure: which step, what happened, what to do about it. */
export class StepError extends Error {
  constructor(step, message, hint, options) {
    super(message, options);
    this.name = 'StepError';
    this.step = step;
    this.hint = hint;
  }
}

/** Run a program to completion; resolves with its output, rejects (naming the step) if it fails. */
export function run(step, file, args, { cwd, env, stdout, hint } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    if (stdout) child.stdout.pipe(stdout);
    else child.stdout.on('data', (b) => out.push(b));
    child.stderr.on('data', (b) => err.push(b));
    child.on('error', (e) =>
      reject(new StepError(step, `cannot run ${file}: ${e.message}`, hint ?? `install ${path.basename(file)}`, { cause: e })),
    );
    child.on('close', (code, signal) => {
      if (code === 0) return resolve(Buffer.concat(out).toString('utf8'));
      const why = signal ? `killed by ${signal}` : `exit ${code}`;
      const tail = Buffer.concat(err).toString('utf8').trim().split('\n').slice(-5).join('\n');
      reject(new StepError(step, `${file} ${args.join(' ')}: ${why}${tail ? `\n${tail}` : ''}`, hint));
    });
  });
}

/** The first of `names` found on PATH, or undefined. */
export function which(...names) {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const name of names) {
    for (const dir of dirs) {
      const candidate = path.join(dir, name);
      if (existsSync(candidate)) return candidate;
    }
  }
  return undefined;
}

/** SHA-256 of a file, streamed (the executables are ~100 MB). */
export function sha256File(file) {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (b) => hash.update(b))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

export function sha256(data) {
  return createHash('sha256').update(data).digest('hex');
}

export function mib(bytes) {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * Hold an exclusive lock file while `fn` runs. Engineers share one work tree, so two builds may
 * start together; the second waits and then finds the first one's work done. A lock left by a
 * process that no longer exists is taken over.
 */
export async function withLock(file, fn, onWait) {
  let announced = false;
  for (;;) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
      let alive = Number.isInteger(pid) && pid > 0;
      if (alive) {
        try {
          process.kill(pid, 0);
        } catch (err) {
          alive = err.code === 'EPERM';
        }
      }
      if (!alive) {
        try {
          unlinkSync(file);
        } catch {
          // another waiter removed it first
        }
        continue;
      }
      if (!announced) onWait?.(pid);
      announced = true;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  const release = () => {
    try {
      if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file);
    } catch {
      // already gone
    }
  };
  process.once('exit', release);
  try {
    return await fn();
  } finally {
    release();
  }
}
