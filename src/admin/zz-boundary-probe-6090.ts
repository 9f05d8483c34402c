import { createKyselyAuditLog } from '#src/storage/index.ts';
export const probe = createKyselyAuditLog;
