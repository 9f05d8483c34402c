/**
 * Regenerates docs/openapi.json from the admin API's route declarations, and the console's API
 * types from it (`npm run openapi`).
 */
import { writeFileSync } from 'node:fs';
import { adminOpenApiDocument, OPENAPI_FILE, serializeOpenApi } from '#src/admin/openapi-document.ts';
import { CONSOLE_API_TYPES_FILE, generateConsoleApiTypes } from '#src/console/api-types.ts';

writeFileSync(OPENAPI_FILE, serializeOpenApi(adminOpenApiDocument()));
process.stdout.write(`wrote ${OPENAPI_FILE.pathname}\n`);
writeFileSync(CONSOLE_API_TYPES_FILE, await generateConsoleApiTypes());
process.stdout.write(`wrote ${CONSOLE_API_TYPES_FILE.pathname}\n`);
