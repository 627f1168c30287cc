import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Keeps streaming memory flat. Every chunk read from a file or a socket is a new Buffer; V8 frees
 * its memory only when the Buffer's small JS wrapper is collected, and at this allocation pattern
 * (megabytes of backing store per few bytes of heap) the young generation fills so slowly that
 * hundreds of megabytes wait for a full GC. A minor GC (scavenge, ~1 ms) every `everyBytes`
 * streamed releases them: measured reading 1 GiB in 1 MiB chunks, peak RSS 137 → 81 MiB.
 * It frees only what is already garbage: a Buffer still queued survives, and after two
 * scavenges moves to the old generation, where only a full GC finds it. So a chunk that must
 * wait (for the disk, say) is copied into a pooled buffer first (pool.ts), and the chunk dies
 * young.
 */
type GcFn = (opts?: { type: 'minor' | 'major' }) => void;

let gcFn: GcFn | null | undefined;

function gc(): GcFn | null {
  if (gcFn === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      gcFn = runInNewContext('gc') as GcFn;
    } catch {
      gcFn = null;
    }
  }
  return gcFn;
}

/** Bytes noted by every MemoryRelief since the last releaseMemory(). */
let streamed = 0;

/**
 * After a burst of streaming (a push, a deploy): one full GC, so that the heap the burst grew
 * (young generation at its largest, promoted leftovers) is given back before the next one instead
 * of each burst starting higher (orchestrator RSS crept 118 -> 156 MB over eight pushes).
 * Nothing when less than `minBytes` streamed since the last call.
 */
export function releaseMemory(minBytes = 16 * 1024 * 1024): void {
  if (streamed < minBytes) return;
  streamed = 0;
  gc()?.({ type: 'major' });
}

/**
 * For long-running services that stream (the orchestrator's and the repo agent's `serve`): heap
 * limits that triple after each full GC instead of V8's adaptive factor. Measured on the
 * orchestrator over consecutive 1 GiB pushes: after the first push (or an idle spell), V8 set
 * the old-generation limit to the live size + ~12 MB, less than what it wants free for the
 * young generation, so incremental marking began again right after every full GC: ~320 full
 * GCs per push with nothing to free, 22-35 % of the process's CPU samples, user CPU 3.2-4.0 s
 * instead of 1.5-1.8 s. Factor 3: ~1 % in the executable over four pushes. Factor 2 was enough
 * under plain node but not in the executable (its live heap is smaller); factor 4 let the heap
 * grow ~5 MB higher during pushes of many small files. V8 reads the flag each time it computes
 * the limits, so setting it at run time works.
 */
export function tuneHeapForStreaming(): void {
  setFlagsFromString('--heap-growing-percent=200');
}

export class MemoryRelief {
  private since = 0;
  constructor(private readonly everyBytes = 16 * 1024 * 1024) {}

  /** Count `bytes` streamed; collect young garbage when enough has passed. */
  note(bytes: number): void {
    this.since += bytes;
    streamed += bytes;
    if (this.since < this.everyBytes) return;
    this.since = 0;
    gc()?.({ type: 'minor' });
  }
}
