/**
 * The JSON wire format of the embedded coordinator: request schemas the server validates
 * with, and the response shapes the client reads. Kept in one place so both sides agree.
 */
import { z } from 'zod';
import type { KvEntry, Lease } from '../index.ts';

export const MAX_BODY_BYTES = 1024 * 1024;
const MAX_KEY_LENGTH = 4096;
/** A lease longer than a day is almost surely a unit mistake (seconds for milliseconds). */
const MAX_TTL_MS = 24 * 60 * 60 * 1000;

const key = z.string().min(1, 'key must not be empty').max(MAX_KEY_LENGTH);
const leaseId = z.string().min(1).max(200);
const version = z.number().int().min(0);

export const getRequest = z.strictObject({ key });
export const putRequest = z.strictObject({
  key,
  // Presence is checked separately: z.unknown() would also accept a missing value.
  value: z.unknown(),
  expectVersion: version.optional(),
  lease: leaseId.optional(),
});
export const deleteRequest = z.strictObject({ key, expectVersion: version.optional() });
export const listRequest = z.strictObject({ prefix: z.string().max(MAX_KEY_LENGTH) });
export const grantRequest = z.strictObject({ ttlMs: z.number().int().min(10).max(MAX_TTL_MS) });
export const leaseRequest = z.strictObject({ id: leaseId });

export const watchQuery = z.strictObject({
  prefix: z.string().max(MAX_KEY_LENGTH).default(''),
  after: z
    .string()
    .regex(/^\d+$/, 'after must be a non-negative integer')
    .transform(Number)
    .optional(),
  epoch: z.string().max(100).optional(),
  waitMs: z
    .string()
    .regex(/^\d+$/, 'waitMs must be a non-negative integer')
    .transform(Number)
    .optional(),
});

/** Turns zod issues into one readable line, e.g. "key: must not be empty; ttlMs: expected number". */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.length ? issue.path.join('.') : 'body'}: ${issue.message}`).join('; ');
}

export type StoredEvent =
  | { type: 'put'; entry: KvEntry; revision: number }
  | { type: 'delete'; key: string; revision: number };

export interface GetResponse {
  entry: KvEntry | null;
  revision: number;
}
export interface PutResponse {
  entry: KvEntry;
  revision: number;
}
export interface DeleteResponse {
  deleted: boolean;
  revision: number;
}
export interface ListResponse {
  entries: KvEntry[];
  revision: number;
}
export interface LeaseResponse {
  lease: Lease;
  revision: number;
}
export type WatchResponse =
  | { epoch: string; reset: true; revision: number }
  | { epoch: string; reset?: false; events: StoredEvent[]; revision: number };
export interface StatusResponse {
  epoch: string;
  revision: number;
  /** Revision the server started at; history before it is gone. */
  startRevision: number;
  keys: number;
  leases: number;
  uptimeMs: number;
}
