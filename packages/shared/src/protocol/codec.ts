import { ProtocolError } from '../errors';
import { Message } from './messages';

/** Default cap on one JSON control message (an offer of 100 000 files fits). Limits are options. */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export function encode(msg: Message): string {
  return JSON.stringify(msg);
}

/**
 * Parse and validate one control message. Throws ProtocolError naming the problem; the caller
 * answers with an error and disconnects, nothing else changes.
 */
export function decode(data: string | Buffer, maxBytes = DEFAULT_MAX_MESSAGE_BYTES): Message {
  const length = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  if (length > maxBytes) {
    throw new ProtocolError('E_MESSAGE_TOO_LARGE', `control message of ${length} bytes exceeds the limit of ${maxBytes} bytes (maxMessageBytes)`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch (err) {
    throw new ProtocolError('E_MALFORMED', `malformed message: not JSON (${(err as Error).message})`);
  }
  const parsed = Message.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
    const type = raw && typeof raw === 'object' && 'type' in raw ? ` (${JSON.stringify((raw as { type: unknown }).type).slice(0, 40)})` : '';
    throw new ProtocolError('E_MALFORMED', `malformed message${type}${where}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}
