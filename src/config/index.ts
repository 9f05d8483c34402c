/** Configuration: one validated schema, loaded from a file and PORTICO_* variables at start-up. */
export { loadConfig, DEFAULT_CONFIG_FILE, type ConfigIssue, type LoadConfigOptions } from './load-config.ts';
export { redactConfig, redactUrl, REDACTED } from './redact.ts';
export {
  configInputSchema,
  configSchema,
  databaseDrivers,
  logFormats,
  logLevels,
  type Config,
  type DatabaseConfig,
  type LogFormat,
  type LogLevel,
  type PostgresDatabaseConfig,
  type SqliteDatabaseConfig,
} from './schema.ts';
