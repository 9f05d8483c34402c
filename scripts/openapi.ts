/** Regenerates docs/openapi.json from the admin API's route declarations (`npm run openapi`). */
import { writeFileSync } from 'node:fs';
import { adminOpenApiDocument, OPENAPI_FILE, serializeOpenApi } from '#src/admin/openapi-document.ts';

writeFileSync(OPENAPI_FILE, serializeOpenApi(adminOpenApiDocument()));
process.stdout.write(`wrote ${OPENAPI_FILE.pathname}\n`);
