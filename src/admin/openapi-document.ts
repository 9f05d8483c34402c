/** The admin API's OpenAPI document without a running server (handlers are never called here). */
import type { AdminApiDeps } from './routes.ts';
import { ADMIN_API_PREFIX, adminRoutes } from './routes.ts';
import { buildOpenApiDocument } from './openapi.ts';

export const OPENAPI_FILE = new URL('../../docs/openapi.json', import.meta.url);

export function adminOpenApiDocument(): Record<string, unknown> {
  return buildOpenApiDocument(adminRoutes({} as AdminApiDeps), ADMIN_API_PREFIX);
}

export const serializeOpenApi = (document: Record<string, unknown>): string => `${JSON.stringify(document, null, 2)}\n`;
