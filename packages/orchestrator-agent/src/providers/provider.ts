/**
 * Where build machines come from. `digitalocean` creates droplets; `local` (the embedded
 * default) runs build agents as local processes. Both find their machines again by release and
 * target alone, so that every operation is idempotent and a crashed run can be cleaned up later.
 */
export type ProviderName = 'digitalocean' | 'local';
export const PROVIDER_NAMES: readonly ProviderName[] = ['digitalocean', 'local'];

export interface Machine {
  /** Provider-specific id (droplet id, process id file name). */
  id: string;
  name: string;
  release: string;
  target: string;
  /** Provider status as reported (`new`, `active`, `off`, `archive` for droplets; `running`, `exited` locally). */
  status: string;
  /** True once the machine is up (droplet `active`, process started); the agent may still be booting. */
  ready: boolean;
  createdAt: Date;
  /** Address on the private network (VPC), where the orchestrator reaches it by SSH. */
  privateAddress?: string;
  publicAddress?: string;
  /** Whether it carries the fleet's tag; only such machines are ever deleted by `reap`/`--all`. */
  fleet: boolean;
}

/** What a new machine needs to join the fleet; the provider asks for it only for machines it creates. */
export interface Bootstrap {
  /** The credential file content for this machine and release (opaque; written with mode 0600). */
  credential: string;
}

export interface CreateRequest {
  release: string;
  targets: string[];
  /** Called once per machine that does not exist yet (a retry reuses what exists, and its credential). */
  bootstrap: (target: string) => Promise<Bootstrap>;
  signal?: AbortSignal;
}

export interface CreateResult {
  machines: Machine[];
  /** Targets whose machine already existed and was reused. */
  reused: string[];
}

export interface Provider {
  readonly name: ProviderName;
  /** One machine per target; idempotent: machines already there for release+target are reused. */
  create(req: CreateRequest): Promise<CreateResult>;
  /** Resolves when every target's machine is ready; throws a TimeoutError naming the late ones at `deadline` (epoch ms). */
  waitReady(release: string, targets: string[], deadline: number, signal?: AbortSignal): Promise<Machine[]>;
  /** Fleet machines, of one release or all of them. */
  list(filter?: { release?: string }): Promise<Machine[]>;
  /** Deletes the release's machines; idempotent (nothing there is success). Returns how many were deleted. */
  deleteRelease(release: string, signal?: AbortSignal): Promise<number>;
  /** Deletes every fleet machine (never machines without the fleet tag). */
  deleteAll(signal?: AbortSignal): Promise<number>;
  /** Deletes one machine by id; false when it was already gone. */
  deleteMachine(id: string, signal?: AbortSignal): Promise<boolean>;
}
