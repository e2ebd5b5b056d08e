import type { z } from 'zod';
import type { Context } from './context.ts';

/**
 * A service is a named, versioned set of actions and event handlers. `links@1` and `links@2`
 * are two services as far as routing goes: they live side by side and are addressed apart.
 */

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RestAlias {
  method: HttpMethod;
  /** Path with `:name` segments taken as params, e.g. `/v1/links/:code`. */
  path: string;
}

export interface ActionDefinition<Schema extends z.ZodType = z.ZodType, Result = unknown> {
  /** Params are validated against this before the handler runs (VALIDATION, 422, on failure). */
  params: Schema;
  handler: (ctx: Context, params: z.output<Schema>) => Result | Promise<Result>;
  /** Safe to run twice: a call whose node died may be retried on another node. */
  idempotent?: boolean;
  /** Per-call time limit in ms; overrides the runtime default. */
  timeoutMs?: number;
  rest?: RestAlias;
  description?: string;
}

export interface EventDefinition<Schema extends z.ZodType = z.ZodType> {
  /** Payloads that fail this schema are logged and dropped, never handed to the handler. */
  schema?: Schema;
  handler: (ctx: Context, payload: z.output<Schema>) => void | Promise<void>;
}

// The `any`s below are the widest bound for a generic action map: each concrete action keeps its own types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyActionDefinition = ActionDefinition<any, any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyEventDefinition = EventDefinition<any>;

export interface ServiceDefinition<
  Name extends string = string,
  Actions extends Record<string, AnyActionDefinition> = Record<string, AnyActionDefinition>,
> {
  name: Name;
  version: number;
  actions: Actions;
  events?: Record<string, AnyEventDefinition>;
  /** Balancing strategy name used when calling this service (default: the runtime's). */
  balancing?: string;
  /** Params field whose value is the hash key for sticky strategies (consistent-hash). */
  balanceKey?: string;
  started?: (ctx: Context) => void | Promise<void>;
  stopped?: (ctx: Context) => void | Promise<void>;
}

export type AnyService = ServiceDefinition<string, Record<string, AnyActionDefinition>>;

export type ActionNames<S extends AnyService> = keyof S['actions'] & string;
export type ParamsOf<S extends AnyService, A extends ActionNames<S>> = z.input<S['actions'][A]['params']>;
export type ResultOf<S extends AnyService, A extends ActionNames<S>> = Awaited<ReturnType<S['actions'][A]['handler']>>;

const serviceNamePattern = /^[a-z$][a-z0-9_-]*$/i;
const actionNamePattern = /^[a-z][a-z0-9_]*$/i;

/** Declares a service; checks names and versions now so mistakes surface at start, not per call. */
export function defineService<const Name extends string, const Actions extends Record<string, AnyActionDefinition>>(
  definition: ServiceDefinition<Name, Actions>,
): ServiceDefinition<Name, Actions> {
  if (!serviceNamePattern.test(definition.name)) {
    throw new Error(`service name ${JSON.stringify(definition.name)} must be letters, digits, - or _`);
  }
  if (!Number.isInteger(definition.version) || definition.version < 1) {
    throw new Error(`service ${definition.name}: version must be a positive integer`);
  }
  for (const actionName of Object.keys(definition.actions)) {
    if (!actionNamePattern.test(actionName)) {
      throw new Error(`service ${definition.name}: action name ${JSON.stringify(actionName)} is not valid`);
    }
  }
  return definition;
}

/** Lets TypeScript infer one action's params and result types where it is declared. */
export function action<Schema extends z.ZodType, Result>(
  definition: ActionDefinition<Schema, Result>,
): ActionDefinition<Schema, Result> {
  return definition;
}

export function event<Schema extends z.ZodType>(definition: EventDefinition<Schema>): EventDefinition<Schema> {
  return definition;
}

export function serviceKey(name: string, version: number): string {
  return `${name}@${version}`;
}
