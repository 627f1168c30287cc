import { z } from 'zod';
import { fileNameProblem, isValidRelease, isValidTarget } from './names';

/**
 * The message vocabulary of pkgfleet's WebSocket protocol (version 1). Control messages are JSON
 * objects with a `type`; file data travel as binary frames between `file.begin` and `file.end`.
 * Every message is validated here, at the boundary, before anything acts on it.
 */

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits');
const fileName = z.string().superRefine((s, ctx) => {
  const problem = fileNameProblem(s);
  if (problem) ctx.addIssue({ code: 'custom', message: `file name ${JSON.stringify(s)} ${problem}` });
});
const release = z.string().refine(isValidRelease, 'release must match [A-Za-z0-9._-]+');
const target = z.string().refine(isValidTarget, 'target must match [A-Za-z0-9._-]+');
const size = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/**
 * A file on offer. Protocol 2 senders leave out `sha256` (they hash while streaming and send the
 * digest with `file.end`); protocol 1 senders hashed the file before offering it.
 */
export const FileOffer = z.strictObject({ name: fileName, size, sha256: sha256.optional() });
export type FileOffer = z.infer<typeof FileOffer>;

export const Hello = z.strictObject({
  type: z.literal('hello'),
  protocols: z.array(z.number().int().positive()).min(1).max(16),
  agent: z.enum(['build-agent', 'orchestrator-agent', 'repo-agent']),
  agentVersion: z.string().max(64),
  hostname: z.string().max(255).optional(),
});

export const Welcome = z.strictObject({
  type: z.literal('welcome'),
  protocol: z.number().int().positive(),
  serverVersion: z.string().max(64),
  credential: z.strictObject({ id: z.string().max(64), role: z.enum(['build', 'deploy']), release: z.string().optional(), target: z.string().optional(), expiresAt: z.string().optional() }),
  limits: z.strictObject({ maxFileSize: size, maxFiles: z.number().int().positive(), chunkSize: z.number().int().positive(), heartbeatMs: z.number().int().positive() }),
});

export const ErrorMessage = z.strictObject({
  type: z.literal('error'),
  code: z.string().max(64),
  message: z.string().max(4096),
  hint: z.string().max(1024).optional(),
  /** The file the error is about, when it is about one (the session goes on for others). */
  name: z.string().max(255).optional(),
  fatal: z.boolean(),
});

export const PushOffer = z.strictObject({
  type: z.literal('push.offer'),
  release,
  target,
  files: z.array(FileOffer).min(1).max(100_000),
  replace: z.boolean(),
});

export const FileState = z.strictObject({
  name: fileName,
  /**
   * complete: the same content already landed; conflict: different content landed under this name;
   * landed: a file landed under this name, and the offer gave no hash to compare with (its `size`
   * and `sha256` are given: the sender compares, and sends it only with `replace`).
   */
  state: z.enum(['missing', 'partial', 'complete', 'conflict', 'landed']),
  /** Where sending this file would resume (bytes already held of it). */
  offset: size,
  size: size.optional(),
  sha256: sha256.optional(),
});
export type FileState = z.infer<typeof FileState>;

export const PushStatus = z.strictObject({ type: z.literal('push.status'), files: z.array(FileState) });

export const FileBegin = z.strictObject({ type: z.literal('file.begin'), name: fileName, size, sha256: sha256.optional(), offset: size });
/** `sha256`: the whole file's digest, required unless the offer or `file.begin` carried it. */
export const FileEnd = z.strictObject({ type: z.literal('file.end'), name: fileName, sha256: sha256.optional() });
export const FileDone = z.strictObject({ type: z.literal('file.done'), name: fileName, sha256, bytesReceived: size });

export const Register = z.strictObject({ type: z.literal('register'), release, target, hostname: z.string().max(255), agentVersion: z.string().max(64) });
export const Registered = z.strictObject({ type: z.literal('registered'), release, target });
export const Heartbeat = z.strictObject({ type: z.literal('heartbeat'), seq: z.number().int().nonnegative() });
export const HeartbeatAck = z.strictObject({ type: z.literal('heartbeat.ack'), seq: z.number().int().nonnegative() });
export const Bye = z.strictObject({ type: z.literal('bye'), reason: z.string().max(1024) });

/**
 * Deploy (orchestrator → repo-agent): the snapshot manifest (validated by snapshot/manifest.ts),
 * the content the repo server lacks, then a tar stream of exactly that as binary frames.
 */
export const DeployOffer = z.strictObject({ type: z.literal('deploy.offer'), manifest: z.unknown(), activate: z.boolean() });
export const DeployLacking = z.strictObject({
  type: z.literal('deploy.lacking'),
  id: z.string().max(128),
  entries: z.array(z.strictObject({ path: z.string().max(4096), size, sha256, mode: z.number().int().nonnegative().max(0o7777) })),
});
export const DeployEnd = z.strictObject({ type: z.literal('deploy.end') });
export const DeployDone = z.strictObject({
  type: z.literal('deploy.done'),
  id: z.string().max(128),
  activated: z.boolean(),
  previous: z.string().max(128).optional(),
  files: z.number().int().nonnegative(),
  bytes: size,
  bytesReceived: size,
  filesReceived: z.number().int().nonnegative(),
  filesLinked: z.number().int().nonnegative(),
});

/** Every message either side may send, keyed by `type`. */
export const Message = z.discriminatedUnion('type', [
  Hello, Welcome, ErrorMessage, PushOffer, PushStatus, FileBegin, FileEnd, FileDone, Register, Registered, Heartbeat, HeartbeatAck, Bye, DeployOffer, DeployLacking, DeployEnd, DeployDone,
]);
export type Message = z.infer<typeof Message>;
export type MessageOf<T extends Message['type']> = Extract<Message, { type: T }>;
