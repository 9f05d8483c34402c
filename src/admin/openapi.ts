/**
 * The admin API's OpenAPI 3.1 document, generated from the routes' zod schemas. The checked-in
 * copy (docs/openapi.json) is compared with this in the tests, so the document cannot drift.
 */
import { z } from 'zod';
import type { ApiRoute } from './api-route.ts';
import { errorResponse } from './schemas.ts';

type JsonSchema = Record<string, unknown>;

export function buildOpenApiDocument(routes: readonly ApiRoute[], prefix: string): JsonSchema {
  const components: Record<string, JsonSchema> = {};
  // Schemas with a `.meta({ id })` become shared components, referenced by $ref.
  const toSchema = (schema: z.ZodType, io: 'input' | 'output'): JsonSchema => {
    const generated = z.toJSONSchema(schema, { io, target: 'draft-2020-12', unrepresentable: 'any' });
    const { $defs = {}, ...rest } = JSON.parse(JSON.stringify(generated).replaceAll('"#/$defs/', '"#/components/schemas/')) as JsonSchema & { $defs?: Record<string, JsonSchema> };
    // The same component may be generated for input and output (defaults differ); output wins.
    for (const [id, definition] of Object.entries($defs)) if (io === 'output' || !(id in components)) components[id] = definition;
    delete rest.$schema;
    return rest;
  };

  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of routes) {
    const parameters = [
      ...objectFields(route.params).map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
      ...queryParameters(route.query, (schema) => toSchema(schema, 'input')),
    ];
    const status = String(route.status ?? 200);
    const operation: JsonSchema = {
      operationId: route.operationId,
      summary: route.summary,
      tags: [route.tag],
      ...(parameters.length > 0 ? { parameters } : {}),
      // Changes take JSON or no body: anything else is 415 api.unsupported_media_type.
      ...(route.body ? { requestBody: { required: true, content: { 'application/json': { schema: toSchema(route.body, 'input') } } } } : {}),
      responses: {
        [status]: status === '204' ? { description: 'Done' } : { description: 'OK', content: { 'application/json': { schema: toSchema(route.response, 'output') } } },
        default: { description: 'An error with a stable code', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
      },
    };
    (paths[`${prefix}${route.path}`] ??= {})[route.method.toLowerCase()] = operation;
  }
  toSchema(errorResponse, 'output');

  return {
    openapi: '3.1.0',
    info: { title: 'Portico admin API', version: '1', description: 'Administer Portico: accounts, permission sets, applications, assignments, provisioned users and attribute mappings.' },
    components: {
      schemas: Object.fromEntries(Object.entries(components).sort(([a], [b]) => a.localeCompare(b))),
      securitySchemes: {
        bootstrapToken: { type: 'http', scheme: 'bearer', description: 'The bootstrap token printed at first start' },
        session: { type: 'apiKey', in: 'cookie', name: 'portico_session', description: "An administrator's portal session (member of admin.groups); changes made with it must carry an Origin (or, without one, a Referer) naming Portico's own site" },
      },
    },
    security: [{ bootstrapToken: [] }, { session: [] }],
    paths,
  };
}

function objectFields(schema: z.ZodType | undefined): string[] {
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

function queryParameters(schema: z.ZodType | undefined, toSchema: (schema: z.ZodType) => JsonSchema): JsonSchema[] {
  if (!(schema instanceof z.ZodObject)) return [];
  return Object.entries(schema.shape as Record<string, z.ZodType>).map(([name, field]) => ({
    name,
    in: 'query',
    required: !field.safeParse(undefined).success,
    schema: toSchema(field),
    ...(field.description ? { description: field.description } : {}),
  }));
}
