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

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * What is wrong with a service definition, one phrase each ("missing name", `action "get":
 * handler must be a function`); empty when it is sound. Plain objects reach the runtime too (a
 * config need not use defineService, and type stripping checks no types), so the config check
 * runs this on every service, not only defineService.
 */
export function serviceProblems(definition: unknown): string[] {
  if (!isObject(definition)) return ['not a service definition (an object from defineService({ name, version, actions }))'];
  const problems: string[] = [];
  const { name, version, actions, events } = definition;
  if (name === undefined || name === '') problems.push('missing name');
  else if (typeof name !== 'string' || !serviceNamePattern.test(name)) problems.push(`service name ${JSON.stringify(name)} must be letters, digits, - or _`);
  if (version === undefined) problems.push('missing version');
  else if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) problems.push(`version must be a positive integer, got ${JSON.stringify(version)}`);
  if (!isObject(actions)) problems.push('actions must be an object of action({ params, handler })');
  else {
    for (const [actionName, act] of Object.entries(actions)) {
      if (!actionNamePattern.test(actionName)) problems.push(`action name ${JSON.stringify(actionName)} is not valid`);
      else if (!isObject(act)) problems.push(`action "${actionName}" must be action({ params, handler })`);
      else {
        if (typeof act.handler !== 'function') problems.push(`action "${actionName}": handler must be a function`);
        if (!isObject(act.params) || typeof act.params.safeParse !== 'function') problems.push(`action "${actionName}": params must be a zod schema`);
      }
    }
  }
  if (events !== undefined) {
    if (!isObject(events)) problems.push('events must be an object of event({ handler })');
    else for (const [eventName, ev] of Object.entries(events)) if (!isObject(ev) || typeof ev.handler !== 'function') problems.push(`event "${eventName}": handler must be a function`);
  }
  for (const hook of ['started', 'stopped'] as const) {
    if (definition[hook] !== undefined && typeof definition[hook] !== 'function') problems.push(`${hook} must be a function`);
  }
  if (definition.balancing !== undefined && typeof definition.balancing !== 'string') problems.push('balancing must be a strategy name');
  return problems;
}

/** How a service is named in messages: `links@2` when it has a name and version to go by. */
export function serviceLabel(definition: unknown): string | undefined {
  if (!isObject(definition) || typeof definition.name !== 'string' || !serviceNamePattern.test(definition.name)) return undefined;
  return typeof definition.version === 'number' ? serviceKey(definition.name, definition.version) : definition.name;
}

/** Declares a service; checks names and versions now so mistakes surface at start, not per call. */
export function defineService<const Name extends string, const Actions extends Record<string, AnyActionDefinition>>(
  definition: ServiceDefinition<Name, Actions>,
): ServiceDefinition<Name, Actions> {
  const problems = serviceProblems(definition);
  if (problems.length > 0) {
    const label = serviceLabel(definition);
    throw new Error(`${label ? `service ${label}` : 'defineService'}: ${problems.join('; ')}`);
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
