import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { adminOpenApiDocument, OPENAPI_FILE, serializeOpenApi } from './openapi-document.ts';

void describe('the admin API OpenAPI document', () => {
  it('matches the checked-in docs/openapi.json (run `npm run openapi` after changing a route)', () => {
    assert.equal(readFileSync(OPENAPI_FILE, 'utf8'), serializeOpenApi(adminOpenApiDocument()));
  });

  it('describes every route with its request and response schemas', () => {
    const document = adminOpenApiDocument() as { paths: Record<string, Record<string, { operationId: string; requestBody?: unknown; responses: Record<string, unknown> }>>; components: { schemas: Record<string, unknown> } };
    const operations = Object.values(document.paths).flatMap((methods) => Object.values(methods));
    assert.ok(operations.length >= 30);
    assert.equal(new Set(operations.map((o) => o.operationId)).size, operations.length, 'operation ids are unique');
    const createPermissionSet = document.paths['/admin/api/permission-sets']?.post;
    assert.ok(createPermissionSet?.requestBody, 'the create body is described');
    for (const id of ['Account', 'PermissionSet', 'Application', 'Assignment', 'Error']) assert.ok(id in document.components.schemas, `component ${id}`);
  });
});
