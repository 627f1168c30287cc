import { ProtocolError, AuthError, TransferError } from '../errors';
import type { FileOffer, MessageOf } from './messages';

/**
 * The receiving side of a push as a pure state machine: it checks that each message is allowed
 * now and consistent with what came before; the caller does the I/O. idle → offered → receiving →
 * offered … Any violation throws; the server answers with the error and disconnects.
 */
export interface PushScope {
  release: string;
  target: string;
}

export interface PushLimits {
  maxFiles: number;
  maxFileSize: number;
}

export interface CurrentFile extends FileOffer {
  offset: number;
  received: number;
}

export type PushPhase = 'idle' | 'offered' | 'receiving';

export class PushSessionMachine {
  phase: PushPhase = 'idle';
  offer = new Map<string, FileOffer>();
  replace = false;
  current: CurrentFile | undefined;

  constructor(
    private readonly scope: PushScope,
    private readonly limits: PushLimits,
  ) {}

  onOffer(msg: MessageOf<'push.offer'>): void {
    if (this.phase === 'receiving') throw new ProtocolError('E_OUT_OF_ORDER', `push.offer while receiving ${this.current?.name}`);
    if (msg.release !== this.scope.release || msg.target !== this.scope.target) {
      throw new AuthError('E_CREDENTIAL_SCOPE', `this credential is for release ${this.scope.release} target ${this.scope.target}, not release ${msg.release} target ${msg.target}`, 'use the credential issued for this release and target');
    }
    if (msg.files.length > this.limits.maxFiles) {
      throw new TransferError('E_LIMIT_FILES', `push of ${msg.files.length} files exceeds the limit of ${this.limits.maxFiles} files per push (maxFiles)`, 'push in several runs or raise maxFiles in the orchestrator config');
    }
    const offer = new Map<string, FileOffer>();
    for (const f of msg.files) {
      if (f.size > this.limits.maxFileSize) {
        throw new TransferError('E_LIMIT_FILE_SIZE', `${f.name}: ${f.size} bytes exceeds the limit of ${this.limits.maxFileSize} bytes (maxFileSize)`, 'raise maxFileSize in the orchestrator config if this file is expected');
      }
      const prev = offer.get(f.name);
      if (prev && (prev.sha256 !== f.sha256 || prev.size !== f.size)) {
        throw new ProtocolError('E_DUPLICATE_NAME', `${f.name} is offered twice with different content`, 'two files of one push must have different names');
      }
      offer.set(f.name, f);
    }
    this.offer = offer;
    this.replace = msg.replace;
    this.phase = 'offered';
  }

  onBegin(msg: MessageOf<'file.begin'>): CurrentFile {
    if (this.phase !== 'offered') throw new ProtocolError('E_OUT_OF_ORDER', this.phase === 'idle' ? 'file.begin before push.offer' : `file.begin for ${msg.name} while ${this.current?.name} is still open`);
    const f = this.offer.get(msg.name);
    if (!f) throw new ProtocolError('E_NOT_OFFERED', `file.begin for ${msg.name}, which the offer did not list`);
    if (f.size !== msg.size || (f.sha256 !== undefined && msg.sha256 !== undefined && f.sha256 !== msg.sha256)) {
      throw new ProtocolError('E_OFFER_MISMATCH', `file.begin for ${msg.name} announces size/sha256 different from the offer`);
    }
    if (msg.offset > msg.size) throw new ProtocolError('E_BAD_OFFSET', `file.begin for ${msg.name} at offset ${msg.offset} beyond its size ${msg.size}`);
    const sha256 = msg.sha256 ?? f.sha256;
    this.current = { name: f.name, size: f.size, ...(sha256 ? { sha256 } : {}), offset: msg.offset, received: 0 };
    this.phase = 'receiving';
    return this.current;
  }

  onData(length: number): CurrentFile {
    const cur = this.current;
    if (this.phase !== 'receiving' || !cur) throw new ProtocolError('E_OUT_OF_ORDER', 'binary data outside file.begin … file.end');
    if (cur.offset + cur.received + length > cur.size) {
      throw new ProtocolError('E_TOO_MANY_BYTES', `${cur.name}: more bytes than the announced ${cur.size}`);
    }
    cur.received += length;
    return cur;
  }

  /** The file is complete: returns it with the digest it must hash to (from the offer, begin or end). */
  onEnd(msg: MessageOf<'file.end'>): CurrentFile & { sha256: string } {
    const cur = this.current;
    if (this.phase !== 'receiving' || !cur) throw new ProtocolError('E_OUT_OF_ORDER', `file.end for ${msg.name} without file.begin`);
    if (msg.name !== cur.name) throw new ProtocolError('E_OUT_OF_ORDER', `file.end for ${msg.name} while ${cur.name} is open`);
    if (cur.offset + cur.received !== cur.size) {
      throw new ProtocolError('E_SHORT_FILE', `${cur.name}: file.end after ${cur.offset + cur.received} of ${cur.size} bytes`);
    }
    if (msg.sha256 !== undefined && cur.sha256 !== undefined && msg.sha256 !== cur.sha256) {
      throw new ProtocolError('E_OFFER_MISMATCH', `file.end for ${cur.name} announces a sha256 different from the one announced before`);
    }
    const sha256 = msg.sha256 ?? cur.sha256;
    if (sha256 === undefined) throw new ProtocolError('E_NO_HASH', `file.end for ${cur.name} without a sha256, and none was announced before`, 'send the digest with file.end (protocol 2) or in the offer');
    cur.sha256 = sha256;
    return cur as CurrentFile & { sha256: string };
  }

  /** The open file finished (landed or failed): back to offered. */
  closeCurrent(): void {
    this.current = undefined;
    this.phase = 'offered';
  }
}
