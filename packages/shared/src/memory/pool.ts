/**
 * Buffers of one size, reused once their user is done with them. Streaming through a pool
 * allocates nothing per chunk: a chunk's memory is not left for the garbage collector to find,
 * so memory stays flat without forcing collections (see relief.ts for what that costs).
 */
export class BufferPool {
  private free: Buffer[] = [];
  /** `keep`: at most this many idle buffers are held; more in use at once are allocated. */
  constructor(
    readonly size: number,
    private readonly keep: number,
  ) {}

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  give(buf: Buffer): void {
    if (buf.length === this.size && this.free.length < this.keep) this.free.push(buf);
  }
}
