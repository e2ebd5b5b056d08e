/**
 * CoordinatorStore: the coordinator's state in SQLite — keys, leases and the meta row with the
 * cluster revision and the fencing counter. Every change is one transaction committed before
 * the caller is answered (WAL, synchronous=FULL), so an acknowledged write survives kill -9.
 * The in-memory revision and fencing counter are advanced only after a commit succeeds.
 */
import { randomUUID } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import type { StatementSync } from 'node:sqlite';
import { ShoalError } from '../../core/index.ts';
import type { KvEntry, Lease } from '../index.ts';
import type { StoredEvent } from './protocol.ts';

interface KeyRow {
  key: string;
  value: string;
  version: number;
  mod_revision: number;
  lease: string | null;
}

interface LeaseRow {
  id: string;
  ttl_ms: number;
  expires_at: number;
  fencing_token: number;
}

const schema = `
  CREATE TABLE IF NOT EXISTS meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    revision INTEGER NOT NULL,
    fencing INTEGER NOT NULL
  );
  INSERT OR IGNORE INTO meta (id, revision, fencing) VALUES (1, 0, 0);
  CREATE TABLE IF NOT EXISTS keys (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    version INTEGER NOT NULL,
    mod_revision INTEGER NOT NULL,
    lease TEXT
  );
  CREATE INDEX IF NOT EXISTS keys_by_lease ON keys (lease);
  CREATE TABLE IF NOT EXISTS leases (
    id TEXT PRIMARY KEY,
    ttl_ms INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    fencing_token INTEGER NOT NULL
  );
`;

function toEntry(row: KeyRow): KvEntry {
  const entry: KvEntry = { key: row.key, value: JSON.parse(row.value), version: row.version, modRevision: row.mod_revision };
  if (row.lease !== null) entry.lease = row.lease;
  return entry;
}

function toLease(row: LeaseRow): Lease {
  return { id: row.id, ttlMs: row.ttl_ms, fencingToken: row.fencing_token };
}

export class CoordinatorStore {
  private readonly db: DatabaseSync;
  private readonly onEvents: (events: StoredEvent[]) => void;
  private currentRevision: number;
  private fencing: number;
  private readonly stmt: {
    getKey: StatementSync;
    listFrom: StatementSync;
    upsertKey: StatementSync;
    deleteKey: StatementSync;
    keysOfLease: StatementSync;
    setMeta: StatementSync;
    getLease: StatementSync;
    insertLease: StatementSync;
    touchLease: StatementSync;
    deleteLease: StatementSync;
    dueLeases: StatementSync;
    counts: StatementSync;
  };

  /** onEvents receives the key changes of each committed transaction, in revision order. */
  constructor(path: string, onEvents: (events: StoredEvent[]) => void) {
    this.db = new DatabaseSync(path);
    this.onEvents = onEvents;
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;');
    this.db.exec(schema);
    const meta = this.db.prepare('SELECT revision, fencing FROM meta WHERE id = 1').get() as { revision: number; fencing: number };
    this.currentRevision = meta.revision;
    this.fencing = meta.fencing;
    const db = this.db;
    this.stmt = {
      getKey: db.prepare('SELECT key, value, version, mod_revision, lease FROM keys WHERE key = ?'),
      listFrom: db.prepare('SELECT key, value, version, mod_revision, lease FROM keys WHERE key >= ? ORDER BY key'),
      upsertKey: db.prepare(
        `INSERT INTO keys (key, value, version, mod_revision, lease) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version,
           mod_revision = excluded.mod_revision, lease = excluded.lease`,
      ),
      deleteKey: db.prepare('DELETE FROM keys WHERE key = ?'),
      keysOfLease: db.prepare('SELECT key FROM keys WHERE lease = ? ORDER BY key'),
      setMeta: db.prepare('UPDATE meta SET revision = ?, fencing = ? WHERE id = 1'),
      getLease: db.prepare('SELECT id, ttl_ms, expires_at, fencing_token FROM leases WHERE id = ?'),
      insertLease: db.prepare('INSERT INTO leases (id, ttl_ms, expires_at, fencing_token) VALUES (?, ?, ?, ?)'),
      touchLease: db.prepare('UPDATE leases SET expires_at = ? WHERE id = ?'),
      deleteLease: db.prepare('DELETE FROM leases WHERE id = ?'),
      dueLeases: db.prepare('SELECT id FROM leases WHERE expires_at <= ? ORDER BY expires_at'),
      counts: db.prepare('SELECT (SELECT count(*) FROM keys) AS keys, (SELECT count(*) FROM leases) AS leases'),
    };
  }

  get revision(): number {
    return this.currentRevision;
  }

  /**
   * After a crash nobody could keep leases alive while the server was down, so every
   * surviving lease gets a full ttl from now: live clients reconnect and renew, dead ones expire.
   */
  graceLeases(now: number): void {
    this.db.prepare('UPDATE leases SET expires_at = ? + ttl_ms').run(now);
  }

  get(key: string): KvEntry | undefined {
    const row = this.stmt.getKey.get(key) as KeyRow | undefined;
    return row ? toEntry(row) : undefined;
  }

  list(prefix: string): KvEntry[] {
    const entries: KvEntry[] = [];
    // Keys sharing a prefix are contiguous in binary order, so the scan stops at the first miss.
    for (const row of this.stmt.listFrom.iterate(prefix) as Iterable<KeyRow>) {
      if (!row.key.startsWith(prefix)) break;
      entries.push(toEntry(row));
    }
    return entries;
  }

  put(key: string, value: unknown, options: { expectVersion?: number; lease?: string }, now: number): KvEntry {
    const entry = this.transaction((events) => {
      const current = this.stmt.getKey.get(key) as KeyRow | undefined;
      const currentVersion = current?.version ?? 0;
      if (options.expectVersion !== undefined && options.expectVersion !== currentVersion) {
        throw new ShoalError('CONFLICT', `version of ${key} is ${currentVersion}, expected ${options.expectVersion}`, {
          key,
          expectedVersion: options.expectVersion,
          actualVersion: currentVersion,
        });
      }
      if (options.lease !== undefined) this.requireLiveLease(options.lease, now);
      const revision = this.currentRevision + 1;
      const row: KeyRow = {
        key,
        value: JSON.stringify(value),
        version: currentVersion + 1,
        mod_revision: revision,
        lease: options.lease ?? null,
      };
      this.stmt.upsertKey.run(row.key, row.value, row.version, row.mod_revision, row.lease);
      const stored = toEntry(row);
      events.push({ type: 'put', entry: stored, revision });
      return stored;
    });
    return entry;
  }

  delete(key: string, options: { expectVersion?: number }): boolean {
    return this.transaction((events) => {
      const current = this.stmt.getKey.get(key) as KeyRow | undefined;
      const currentVersion = current?.version ?? 0;
      if (options.expectVersion !== undefined && options.expectVersion !== currentVersion) {
        throw new ShoalError('CONFLICT', `version of ${key} is ${currentVersion}, expected ${options.expectVersion}`, {
          key,
          expectedVersion: options.expectVersion,
          actualVersion: currentVersion,
        });
      }
      if (!current) return false;
      this.stmt.deleteKey.run(key);
      events.push({ type: 'delete', key, revision: this.currentRevision + 1 });
      return true;
    });
  }

  grantLease(ttlMs: number, now: number): Lease {
    return this.transaction(() => {
      const row: LeaseRow = { id: randomUUID(), ttl_ms: ttlMs, expires_at: now + ttlMs, fencing_token: this.fencing + 1 };
      this.stmt.insertLease.run(row.id, row.ttl_ms, row.expires_at, row.fencing_token);
      return toLease(row);
    }, 1);
  }

  keepAlive(id: string, now: number): Lease {
    const row = this.requireLiveLease(id, now);
    this.stmt.touchLease.run(now + row.ttl_ms, id);
    return toLease(row);
  }

  /** Ends a lease and deletes its keys, one revision (and one watch event) per key. */
  revokeLease(id: string): boolean {
    return this.transaction((events) => {
      if (!this.stmt.getLease.get(id)) return false;
      let revision = this.currentRevision;
      for (const { key } of this.stmt.keysOfLease.all(id) as { key: string }[]) {
        this.stmt.deleteKey.run(key);
        events.push({ type: 'delete', key, revision: ++revision });
      }
      this.stmt.deleteLease.run(id);
      return true;
    });
  }

  /** Revokes every lease whose time has come; returns how many ended. */
  expireDue(now: number): number {
    const due = this.stmt.dueLeases.all(now) as { id: string }[];
    for (const { id } of due) this.revokeLease(id);
    return due.length;
  }

  counts(): { keys: number; leases: number } {
    return this.stmt.counts.get() as { keys: number; leases: number };
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }

  /** A lease past its expiry is gone even if the sweeper has not reached it yet. */
  private requireLiveLease(id: string, now: number): LeaseRow {
    const row = this.stmt.getLease.get(id) as LeaseRow | undefined;
    if (!row || row.expires_at <= now) throw new ShoalError('NOT_FOUND', `lease ${id} does not exist or has expired`, { lease: id });
    return row;
  }

  /**
   * Runs fn in one write transaction. Revisions come from the events fn records (they must be
   * numbered from the current revision up); fencingDelta reserves fencing tokens.
   */
  private transaction<T>(fn: (events: StoredEvent[]) => T, fencingDelta = 0): T {
    const events: StoredEvent[] = [];
    this.db.exec('BEGIN IMMEDIATE');
    let result: T;
    try {
      result = fn(events);
      const revision = this.currentRevision + events.length;
      if (events.length > 0 || fencingDelta > 0) this.stmt.setMeta.run(revision, this.fencing + fencingDelta);
      this.db.exec('COMMIT');
    } catch (err) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      throw err;
    }
    this.currentRevision += events.length;
    this.fencing += fencingDelta;
    if (events.length > 0) this.onEvents(events);
    return result;
  }
}
