import { isBuiltinService } from '../core/index.ts';
import type { ActionDescriptor, ServiceDescriptor } from '../control/index.ts';

type JsonObject = Record<string, unknown>;

const errorSchema: JsonObject = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} },
    },
  },
};

function errorResponses(): JsonObject {
  const ref = { content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  return {
    '400': { description: 'Malformed request', ...ref },
    '404': { description: 'Unknown service, version, action or resource', ...ref },
    '422': { description: 'Params failed validation; details.fields lists each bad field', ...ref },
    '503': { description: 'No node can serve the call right now', ...ref },
    '504': { description: 'The call took too long', ...ref },
  };
}

/** JSON Schema as zod emits it, less the keys OpenAPI's schema object does not take at the top. */
function schemaOf(action: ActionDescriptor): JsonObject {
  const schema = { ...((action.paramsSchema as JsonObject | undefined) ?? { type: 'object' }) };
  delete schema.$schema;
  return schema;
}

function queryParameters(schema: JsonObject, exclude: ReadonlySet<string> = new Set()): JsonObject[] {
  const properties = (schema.properties as Record<string, JsonObject> | undefined) ?? {};
  const required = new Set((schema.required as string[] | undefined) ?? []);
  return Object.entries(properties)
    .filter(([name]) => !exclude.has(name))
    .map(([name, property]) => ({ name, in: 'query', required: required.has(name), schema: property }));
}

function operation(service: ServiceDescriptor, action: ActionDescriptor, method: 'get' | 'post', pathParams: string[] = []): JsonObject {
  const schema = schemaOf(action);
  const op: JsonObject = {
    operationId: `${service.name}_v${service.version}_${action.name}_${method}${pathParams.length ? '_rest' : ''}`.replace(/[^A-Za-z0-9_]/g, '_'),
    tags: [`${service.name} v${service.version}`],
    summary: action.description ?? `${service.name}.${action.name} (v${service.version})`,
    responses: { '200': { description: 'The action result', content: { 'application/json': { schema: {} } } }, ...errorResponses() },
  };
  const params: JsonObject[] = pathParams.map((name) => ({
    name,
    in: 'path',
    required: true,
    schema: ((schema.properties as Record<string, JsonObject> | undefined) ?? {})[name] ?? { type: 'string' },
  }));
  if (method === 'get') params.push(...queryParameters(schema, new Set(pathParams)));
  else op.requestBody = { required: true, content: { 'application/json': { schema } } };
  if (params.length) op.parameters = params;
  if (action.idempotent) op['x-shoal-idempotent'] = true;
  return op;
}

/** OpenAPI 3.1 for every live service version: the versioned API routes and the REST aliases. */
export function buildOpenApi(descriptors: readonly ServiceDescriptor[], title = 'Shoal cluster API'): JsonObject {
  const paths: Record<string, JsonObject> = {};
  const sorted = [...descriptors].sort((a, b) => (a.name === b.name ? a.version - b.version : a.name < b.name ? -1 : 1));
  for (const service of sorted) {
    if (isBuiltinService(service.name)) continue;
    for (const action of service.actions) {
      // GET is served only for actions that are safe to repeat; the document lists what is served.
      paths[`/api/v${service.version}/${service.name}/${action.name}`] = {
        post: operation(service, action, 'post'),
        ...(action.idempotent ? { get: operation(service, action, 'get') } : {}),
      };
      if (action.rest) {
        const pathParams: string[] = [];
        const templated = action.rest.path.replace(/:([A-Za-z0-9_]+)/g, (_m, name: string) => {
          pathParams.push(name);
          return `{${name}}`;
        });
        const method = action.rest.method.toLowerCase();
        paths[templated] = { ...(paths[templated] ?? {}), [method]: operation(service, action, method === 'get' ? 'get' : 'post', pathParams) };
      }
    }
  }
  return {
    openapi: '3.1.0',
    info: { title, version: '1.0.0' },
    paths,
    components: { schemas: { Error: errorSchema } },
  };
}
