/**
 * The administrator's web console: a Preact + TypeScript application (src/console/web/) that Vite
 * builds into dist/console/ (`npm run build:console`, run by `npm install`, `npm start` and
 * `npm test`). Portico reads whatever the build produced once at start and serves it as it is:
 * GET /console is its index.html, /console/assets/<file> its files with their types, anything
 * else under /console/assets is 404. The page talks only to /admin/api with the administrator's
 * portal session, under a CSP that allows this origin's script and stylesheet and nothing else
 * (the build inlines nothing: see src/console/web/vite.config.mts).
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { AppError } from '#src/shared/errors.ts';
import { useSecurityHeaders } from '#src/platform/http/index.ts';

export const CONSOLE_PATH = '/console';

/** Where the build puts the console (git-ignored). */
export const CONSOLE_BUILD_DIR = new URL('../../dist/console/', import.meta.url);

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** The types of what the build may produce; any other file in the build is not served. */
const ASSET_TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

interface Asset {
  body: Buffer;
  type: string;
}

/** The console's build is missing: says how to make it (Portico does not start without it). */
export function consoleNotBuilt(directory: URL): AppError {
  return new AppError('console.not_built', `the administrator console is not built (no ${directory.pathname}index.html): run \`npm run build:console\` (\`npm install\`, \`npm start\` and \`npm test\` run it too)`);
}

export interface ConsoleBuild {
  page: Asset;
  assets: Map<string, Asset>;
}

/** Reads the built console: its page and every asset with a known type. */
export async function readConsoleBuild(directory: URL = CONSOLE_BUILD_DIR): Promise<ConsoleBuild> {
  const index = new URL('index.html', directory);
  if (!existsSync(index)) throw consoleNotBuilt(directory);
  const page = { body: await readFile(index), type: 'text/html; charset=utf-8' };
  const assets = new Map<string, Asset>();
  const assetDir = new URL('assets/', directory);
  const names = existsSync(assetDir) ? await readdir(assetDir, { withFileTypes: true }) : [];
  for (const entry of names) {
    const type = ASSET_TYPES[extname(entry.name)];
    if (entry.isFile() && type !== undefined) assets.set(entry.name, { body: await readFile(new URL(entry.name, assetDir)), type });
  }
  return { page, assets };
}

/**
 * Serves GET /console and /console/assets/<built file>; anything else under /console/assets is 404.
 * `build` is read beforehand (startApp does, before it opens anything) or from a directory.
 */
export async function registerConsole(http: FastifyInstance, build: ConsoleBuild | URL = CONSOLE_BUILD_DIR): Promise<void> {
  const { page, assets } = build instanceof URL ? await readConsoleBuild(build) : build;
  const send = (reply: FastifyReply, asset: Asset) => reply.status(200).type(asset.type).send(asset.body);

  await http.register((scope, _options, done) => {
    useSecurityHeaders(scope, { csp: CONSOLE_CSP, page: true });
    scope.get(CONSOLE_PATH, (_request, reply) => send(reply, page));
    scope.get(`${CONSOLE_PATH}/`, (_request, reply) => reply.redirect(CONSOLE_PATH, 301));
    scope.get<{ Params: { name: string } }>(`${CONSOLE_PATH}/assets/:name`, (request, reply) => {
      const asset = assets.get(request.params.name);
      if (asset === undefined) return reply.status(404).type('text/plain; charset=utf-8').send('not found');
      return send(reply, asset);
    });
    done();
  });
}
