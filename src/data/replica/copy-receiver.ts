import { open, rm, type FileHandle } from 'node:fs/promises';
import type { SnapshotMeta } from '../../consensus/index.ts';
import { ShoalError } from '../../core/index.ts';
import type { ShardStore } from '../node/engines.ts';
import type { ShardHost } from '../node/shard-host.ts';
import { COPY_CHUNK_BYTES } from './replica-links.ts';

/** A transfer silent for this long is abandoned and its file removed. */
const ABANDON_AFTER_MS = 60_000;

interface Transfer {
  path: string;
  file: FileHandle;
  next: number;
  touched: number;
}

export interface CopyPiece {
  shard: number;
  from: string;
  transfer: string;
  offset: number;
  data: string;
  last: boolean;
  meta: SnapshotMeta;
}

/**
 * The follower's end of a store copy: pieces are written in order to a scratch file, and the
 * last one puts the file in place of the replica's store. A piece out of order fails (the
 * leader starts the copy over); nothing touches the live store until the file is complete.
 */
export class CopyReceiver {
  readonly #host: ShardHost;
  readonly #store: ShardStore;
  readonly #transfers = new Map<string, Transfer>();

  constructor(host: ShardHost, store: ShardStore) {
    this.#host = host;
    this.#store = store;
  }

  async receive(piece: CopyPiece): Promise<{ received: number; installed: boolean }> {
    const group = this.#host.group(piece.shard);
    if (!group) throw new ShoalError('NOT_FOUND', `shard ${piece.shard} has no replica here`);
    await this.#abandonStale();
    const bytes = Buffer.from(piece.data, 'base64');
    if (bytes.length > COPY_CHUNK_BYTES) throw new ShoalError('PAYLOAD_TOO_LARGE', `a copy piece holds at most ${COPY_CHUNK_BYTES} bytes`);
    let transfer = this.#transfers.get(piece.transfer);
    if (!transfer) {
      if (piece.offset !== 0) throw new ShoalError('CONFLICT', `copy ${piece.transfer} is unknown here; start it over`);
      const path = this.#store.scratchPath(piece.shard, `in-${piece.transfer.replace(/[^a-zA-Z0-9-]/g, '')}`);
      transfer = { path, file: await open(path, 'w'), next: 0, touched: Date.now() };
      this.#transfers.set(piece.transfer, transfer);
    }
    if (piece.offset !== transfer.next) {
      await this.#drop(piece.transfer);
      throw new ShoalError('CONFLICT', `copy piece at ${piece.offset}, expected ${transfer.next}; start it over`);
    }
    await transfer.file.write(bytes, 0, bytes.length, piece.offset);
    transfer.next += bytes.length;
    transfer.touched = Date.now();
    if (!piece.last) return { received: transfer.next, installed: false };
    await transfer.file.sync();
    await transfer.file.close();
    this.#transfers.delete(piece.transfer);
    try {
      await group.installCopy(piece.meta, () => this.#host.replaceStore(piece.shard, transfer.path));
    } finally {
      await rm(transfer.path, { force: true });
    }
    return { received: transfer.next, installed: true };
  }

  async #abandonStale(): Promise<void> {
    const now = Date.now();
    for (const [id, transfer] of this.#transfers) if (now - transfer.touched > ABANDON_AFTER_MS) await this.#drop(id);
  }

  async #drop(id: string): Promise<void> {
    const transfer = this.#transfers.get(id);
    if (!transfer) return;
    this.#transfers.delete(id);
    await transfer.file.close().catch(() => undefined);
    await rm(transfer.path, { force: true });
  }

  async close(): Promise<void> {
    for (const id of [...this.#transfers.keys()]) await this.#drop(id);
  }
}
