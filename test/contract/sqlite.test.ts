/** Repository contracts and migrations on SQLite (a temporary file per test). */
import { sqliteTarget } from './databases.ts';
import { runStorageSuites } from './storage-suites.ts';

runStorageSuites(sqliteTarget());
