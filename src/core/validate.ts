import type { z } from 'zod';
import { ShoalError } from './errors.ts';

export interface FieldProblem {
  /** Dotted path of the bad field ('' for the whole params object). */
  field: string;
  message: string;
}

/** Validates params with the action's schema; on failure a VALIDATION error lists every bad field. */
export function validateParams<Schema extends z.ZodType>(schema: Schema, params: unknown, what: string): z.output<Schema> {
  const result = schema.safeParse(params);
  if (result.success) return result.data;
  const fields: FieldProblem[] = result.error.issues.map((issue) => ({
    field: issue.path.map(String).join('.'),
    message: issue.message,
  }));
  throw new ShoalError('VALIDATION', `invalid params for ${what}: ${fields.map((f) => f.field || '(params)').join(', ')}`, { fields });
}
