/**
 * The body-parser policy of Portico's HTTP faces: which media types a scope reads, and how much.
 * HTML forms (sign-in, password, SAML POST binding) are read as their first value per field;
 * JSON with our size limit and our error code, an empty body allowed. `jsonOnly` (the admin
 * API) drops every other parser and refuses a change carrying another body before it is read.
 * The IdentityStore API keeps raw bytes for its signatures and does not use this.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError, type ErrorCode } from '#src/shared/errors.ts';

export interface BodyPolicy {
  /** application/x-www-form-urlencoded up to this many bytes. */
  form?: { limit: number };
  /** application/json up to `limit` bytes; a body that is not JSON fails with `invalidCode` (400). */
  json?: { limit: number; invalidCode: ErrorCode };
  /**
   * Only JSON is read: every other parser is removed, and a POST, PUT, PATCH or DELETE with a
   * body of another type (or none named) is refused with `code` (415) before it is read; `face` names the API in the message.
   */
  jsonOnly?: { code: ErrorCode; face: string };
}

export type FormFields = Record<string, string>;

const CHANGES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function useBodyPolicy(scope: FastifyInstance, policy: BodyPolicy): void {
  if (policy.jsonOnly !== undefined) {
    const { code, face } = policy.jsonOnly;
    scope.removeAllContentTypeParsers();
    scope.addHook('onRequest', (request, _reply, next) => {
      next(CHANGES.has(request.method) ? unsupportedBody(request, code, face) : undefined);
    });
  }
  if (policy.form !== undefined) {
    // Fastify has no parser for form posts. The first value of a repeated field wins.
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: policy.form.limit }, (_request, body, done) => {
      const fields = Object.create(null) as FormFields;
      for (const [name, value] of new URLSearchParams(body as string)) if (!(name in fields)) fields[name] = value;
      done(null, fields);
    });
  }
  if (policy.json !== undefined) {
    const { invalidCode } = policy.json;
    if (policy.jsonOnly === undefined) scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: policy.json.limit }, (_request, body, done) => {
      const text = (body as string).trim();
      if (text === '') {
        done(null, undefined);
        return;
      }
      try {
        done(null, JSON.parse(text));
      } catch {
        done(new AppError(invalidCode, 'the body is not valid JSON', { status: 400 }), undefined);
      }
    });
  }
}

/** The request's media type, lower case, without parameters ('' when none). */
export function mediaType(request: FastifyRequest): string {
  return (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/**
 * A change carries a JSON body or none: a cross-site HTML form can send only form-encoded,
 * multipart or text/plain bodies, so refusing those (and a body without a type) leaves such a
 * form nothing to drive. A DELETE, or a POST that needs no input, may come without a body.
 */
function unsupportedBody(request: FastifyRequest, code: ErrorCode, face: string): AppError | undefined {
  const { 'content-type': contentType, 'content-length': contentLength, 'transfer-encoding': transferEncoding } = request.headers;
  if (contentType === undefined) {
    const hasBody = transferEncoding !== undefined || (contentLength !== undefined && contentLength !== '0');
    return hasBody ? new AppError(code, 'send the request body as JSON (Content-Type: application/json)', { status: 415 }) : undefined;
  }
  const type = contentType.split(';')[0]?.trim().toLowerCase();
  return type === 'application/json' ? undefined : new AppError(code, `${face} accepts only application/json bodies, not ${type === '' ? 'an empty Content-Type' : (type ?? '')}`.slice(0, 200), { status: 415 });
}
