/**
 * An admin API route is declared once, with zod schemas for its path parameters, query, body
 * and response: the same declaration validates requests and generates the OpenAPI document.
 */
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AppError } from '#src/shared/errors.ts';
import type { AdminIdentity } from './admin-auth.ts';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteContext<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  admin: AdminIdentity;
  request: FastifyRequest;
}

export interface ApiRoute<P = unknown, Q = unknown, B = unknown> {
  method: HttpMethod;
  /** OpenAPI style, relative to /admin/api: `/accounts/{id}`. */
  path: string;
  operationId: string;
  summary: string;
  tag: string;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  response: z.ZodType;
  /** Bytes of JSON body this route accepts, when more than the API's default (an LDIF import). */
  bodyLimit?: number;
  /** 200 unless said (201 for creations, 204 for deletions). */
  status?: 200 | 201 | 204;
  handler(context: RouteContext<P, Q, B>): Promise<unknown>;
}

/** Keeps each route's parameter types while collecting them in one list. */
export function route<P = undefined, Q = undefined, B = undefined>(definition: ApiRoute<P, Q, B>): ApiRoute {
  return definition;
}

export function validate<T>(schema: z.ZodType<T> | undefined, value: unknown, where: string): T {
  if (schema === undefined) return undefined as T;
  const result = schema.safeParse(value ?? (where === 'body' ? undefined : {}));
  if (result.success) return result.data;
  const messages = result.error.issues.map((issue) => {
    const field = issue.path.join('.');
    if (issue.code === 'unrecognized_keys') return `${where}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`;
    // Messages written as "field: rule" already name the field.
    return field !== '' && !issue.message.startsWith(`${field}:`) && !issue.message.includes(': ') ? `${where} ${field}: ${issue.message}` : issue.message;
  });
  throw new AppError('api.invalid_request', [...new Set(messages)].join('; '), { status: 400, details: { issues: messages } });
}

/**
 * Whether every response is checked against its route's declared schema before it is sent. On
 * under node's test runner (which sets NODE_TEST_CONTEXT in each test file's process) or with
 * PORTICO_VALIDATE_RESPONSES=1, so every admin API call any test makes (API, console, CLI)
 * proves the schemas the OpenAPI document and the typed clients are built from; off in
 * production, where a drifted schema must not turn an answer into a 500.
 */
export const validateResponsesByDefault = process.env.NODE_TEST_CONTEXT !== undefined || process.env.PORTICO_VALIDATE_RESPONSES === '1';

/** Throws (a 500) when a response body, as JSON sends it, does not match the route's response schema. */
export function checkResponse(definition: ApiRoute, result: unknown): void {
  const sent: unknown = result === undefined ? undefined : JSON.parse(JSON.stringify(result));
  const checked = definition.response.safeParse(sent);
  if (checked.success) return;
  const issues = checked.error.issues.map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`);
  throw new Error(`admin API ${definition.method} ${definition.path} (${definition.operationId}): the response does not match its schema: ${issues.slice(0, 5).join('; ')}`);
}

/** Query-string numbers arrive as text. */
export const queryInt = (name: string, min: number, max: number, fallback: number) =>
  z
    .string()
    .regex(/^\d{1,6}$/, `${name}: a whole number`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `${name}: ${min} to ${max}`)
    .optional()
    .transform((n) => n ?? fallback);

export const idParams = z.strictObject({ id: z.string().min(1).max(1024) });
