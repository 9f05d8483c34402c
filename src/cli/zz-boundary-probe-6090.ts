import { createDatabase } from '#src/storage/index.ts';
export const probe = createDatabase;
