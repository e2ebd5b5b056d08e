import { z } from 'zod';
import {
  ShoalError,
  serviceKey,
  validateParams,
  type AnyService,
  type Context,
  type Logger,
} from '../core/index.ts';
import type { ServiceDescriptor } from '../control/index.ts';

/** The services this process hosts, found by name and version. */
export class LocalServices {
  private readonly byKey = new Map<string, AnyService>();

  constructor(services: readonly AnyService[]) {
    for (const service of services) {
      const key = serviceKey(service.name, service.version);
      if (this.byKey.has(key)) throw new Error(`service ${key} is defined twice`);
      this.byKey.set(key, service);
    }
  }

  all(): AnyService[] {
    return [...this.byKey.values()];
  }

  has(name: string, version: number): boolean {
    return this.byKey.has(serviceKey(name, version));
  }

  /**
   * Validates params and runs the action's handler, returning what the handler returns. Not
   * async, to spare a promise per call: an unknown action or invalid params throw here.
   */
  invoke(name: string, version: number, actionName: string, params: unknown, ctx: Context): unknown {
    const service = this.byKey.get(serviceKey(name, version));
    if (!service) throw new ShoalError('NOT_FOUND', `service ${name}@${version} is not hosted on ${ctx.nodeId}`);
    const definition = Object.hasOwn(service.actions, actionName) ? service.actions[actionName] : undefined;
    if (!definition) {
      throw new ShoalError('NOT_FOUND', `action ${name}.${actionName} does not exist in version ${version}`, {
        actions: Object.keys(service.actions),
      });
    }
    const valid = validateParams(definition.params, params ?? {}, `${name}.${actionName}@${version}`);
    return definition.handler(ctx, valid);
  }

  /** Runs an event handler; a payload failing the event's schema is logged and dropped. */
  async deliver(name: string, version: number, eventName: string, payload: unknown, ctx: Context, logger: Logger): Promise<void> {
    const service = this.byKey.get(serviceKey(name, version));
    const definition = service?.events && Object.hasOwn(service.events, eventName) ? service.events[eventName] : undefined;
    if (!definition) return;
    let valid = payload;
    if (definition.schema) {
      const result = (definition.schema as z.ZodType).safeParse(payload);
      if (!result.success) {
        logger.warn({ event: eventName, service: name, issues: result.error.issues.length }, 'event payload rejected by schema');
        return;
      }
      valid = result.data;
    }
    await definition.handler(ctx, valid);
  }

  descriptors(): ServiceDescriptor[] {
    return this.all().map(describeService);
  }
}

/** What other processes need to know about a service: its actions, their flags and params schema. */
function describeService(service: AnyService): ServiceDescriptor {
  return {
    name: service.name,
    version: service.version,
    actions: Object.entries(service.actions).map(([name, definition]) => ({
      name,
      idempotent: definition.idempotent === true,
      ...(definition.rest ? { rest: definition.rest } : {}),
      ...(definition.timeoutMs ? { timeoutMs: definition.timeoutMs } : {}),
      ...(definition.description ? { description: definition.description } : {}),
      paramsSchema: paramsJsonSchema(definition.params),
    })),
    events: Object.keys(service.events ?? {}),
    ...(service.balancing ? { balancing: service.balancing } : {}),
    ...(service.balanceKey ? { balanceKey: service.balanceKey } : {}),
  };
}

function paramsJsonSchema(schema: z.ZodType): unknown {
  try {
    return z.toJSONSchema(schema, { unrepresentable: 'any' });
  } catch {
    return {};
  }
}
