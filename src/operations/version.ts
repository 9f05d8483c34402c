/** The version Portico reports (`portico --version`, /status, the portico_build_info metric): package.json's. */
import { readFileSync } from 'node:fs';

let cached: string | null = null;

export function porticoVersion(): string {
  if (cached === null) {
    const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    cached = typeof manifest.version === 'string' ? manifest.version : 'unknown';
  }
  return cached;
}
