/**
 * The administrator's web console: three static files (index.html, console.js, console.css)
 * read once at start and served as they are. No build step and nothing from elsewhere: the
 * page talks only to /admin/api with the administrator's portal session, under a CSP that
 * allows this origin's script and stylesheet and nothing else.
 */
import { readFile } from 'node:fs/promises';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { useSecurityHeaders } from '#src/platform/http/index.ts';

export const CONSOLE_PATH = '/console';

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

const ASSET_TYPES: Readonly<Record<string, string>> = {
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
};

interface Asset {
  body: Buffer;
  type: string;
}

async function readAsset(name: string, type: string): Promise<Asset> {
  return { body: await readFile(new URL(name, import.meta.url)), type };
}

/** Serves GET /console and /console/assets/<known file>; anything else under /console/assets is 404. */
export async function registerConsole(http: FastifyInstance): Promise<void> {
  const page = await readAsset('index.html', 'text/html; charset=utf-8');
  const assets = new Map<string, Asset>();
  for (const [name, type] of Object.entries(ASSET_TYPES)) assets.set(name, await readAsset(name, type));

  const send = (reply: FastifyReply, asset: Asset) => reply.status(200).type(asset.type).send(asset.body);

  await http.register((scope, _options, done) => {
    useSecurityHeaders(scope, { csp: CONSOLE_CSP, page: true });
    scope.get(CONSOLE_PATH, (_request, reply) => send(reply, page));
    scope.get(`${CONSOLE_PATH}/`, (_request, reply) => reply.redirect(CONSOLE_PATH, 301));
    scope.get<{ Params: { name: string } }>(`${CONSOLE_PATH}/assets/:name`, (request, reply) => {
      const asset = Object.hasOwn(ASSET_TYPES, request.params.name) ? assets.get(request.params.name) : undefined;
      if (asset === undefined) return reply.status(404).type('text/plain; charset=utf-8').send('not found');
      return send(reply, asset);
    });
    done();
  });
}
