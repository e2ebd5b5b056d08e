import { z, type AnyService, type ShoalConfig } from '../core/index.ts';

/** Flags the user gave `shoal up`, repeated so the hinted call reaches the same cluster. */
export interface HintFlags {
  dir?: string;
  port?: string;
}

/**
 * `shoal call NAME.ACTION '{…}' --version V` for the config's first service with an action, with
 * params made up from its schema, so the first thing a user tries is a call their own app serves.
 */
export function tryHint(config: ShoalConfig, flags: HintFlags): string | undefined {
  const service = config.services.find((s: AnyService) => !s.name.startsWith('$') && Object.keys(s.actions).length > 0);
  if (!service) return undefined;
  const [actionName, action] = Object.entries(service.actions)[0];
  const params = JSON.stringify(sampleParams(action.params));
  const extra = [flags.port === undefined ? '' : ` --port ${shellWord(flags.port)}`, flags.dir === undefined ? '' : ` --dir ${shellWord(flags.dir)}`].join('');
  return `shoal call ${service.name}.${actionName} ${shellWord(params)} --version ${service.version}${extra}`;
}

function shellWord(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

type JsonSchema = {
  type?: string | string[];
  format?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  examples?: unknown[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  minimum?: number;
};

/** Params that pass a typical schema: required fields only, each with a plausible value. */
export function sampleParams(schema: unknown): unknown {
  try {
    const json = z.toJSONSchema(schema as z.ZodType, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
    return sampleOf(json, 0) ?? {};
  } catch {
    return {};
  }
}

function sampleOf(schema: JsonSchema, depth: number): unknown {
  if (depth > 4) return undefined;
  if (schema.examples?.length) return schema.examples[0];
  if (schema.const !== undefined) return schema.const;
  if (schema.enum?.length) return schema.enum[0];
  if (schema.default !== undefined) return schema.default;
  const alternative = schema.anyOf?.[0] ?? schema.oneOf?.[0];
  if (alternative) return sampleOf(alternative, depth + 1);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const key of schema.required ?? []) {
        const property = schema.properties?.[key];
        if (property) out[key] = sampleOf(property, depth + 1) ?? null;
      }
      return out;
    }
    case 'string':
      if (schema.format === 'uri' || schema.format === 'url') return 'https://example.com';
      if (schema.format === 'email') return 'someone@example.com';
      if (schema.format === 'uuid') return '00000000-0000-4000-8000-000000000000';
      return 'text';
    case 'integer':
    case 'number':
      return Math.max(1, schema.minimum ?? 1);
    case 'boolean':
      return true;
    case 'array':
      return [];
    case 'null':
      return null;
    default:
      return undefined;
  }
}
