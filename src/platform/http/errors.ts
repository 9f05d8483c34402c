/**
 * One renderer from an error to a response for Portico's own HTTP faces: an `AppError` answers
 * with its status and code (its message only when exposed), Fastify's own client errors (body too
 * large, unsupported type, bad URL) with the face's words, anything else with 500 "internal
 * error", logged. JSON APIs get `{ error: { code, message } }`; server-rendered routes get a
 * page from the face's `page` callback.
 *
 * Protocol edges keep their own formats and do not use this: the IdentityStore API answers in
 * AWS's error shapes, and SAML refusals that reach a service provider are SAML StatusCodes.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isAppError, type AppError } from '#src/shared/errors.ts';

export interface DescribedError {
  status: number;
  /** An AppError's code, the face's code for Fastify's client errors, or 'internal'. */
  code: string;
  /** Safe to show: an exposed AppError's message, the face's words, or 'internal error'. */
  message: string;
  /** False when the message was withheld (a 5xx, or an AppError not meant for the caller). */
  exposed: boolean;
}

/** Code and message for an error Fastify raised before a handler ran (a 4xx that is not an AppError). */
export type ClientErrorWords = (status: number, error: FastifyError) => { code: string; message: string };

export function describeError(error: FastifyError | AppError | Error, clientError: ClientErrorWords): DescribedError {
  if (isAppError(error)) return { status: error.status, code: error.code, message: error.expose ? error.message : 'internal error', exposed: error.expose };
  const raw = (error as FastifyError).statusCode;
  const status = typeof raw === 'number' && raw >= 400 && raw < 600 ? raw : 500;
  if (status >= 500) return { status, code: 'internal', message: 'internal error', exposed: false };
  return { status, ...clientError(status, error as FastifyError), exposed: true };
}

export interface ErrorRendering {
  /** Names the face in the log line of a 5xx ("<name> failed"). */
  name: string;
  clientError: ClientErrorWords;
  /**
   * Runs first: may answer itself (a redirect to sign-in) or return the error to render instead
   * (e.g. a refusal in the face's own code). Returning `error` unchanged renders it as usual.
   */
  intercept?: (error: Error, request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | Error> | FastifyReply | Error;
  /** Adjusts a described error before it is sent (e.g. the admin API's "database unavailable"). */
  adjust?: (described: DescribedError, error: Error) => DescribedError;
  /** Whether the request gets JSON; default: always. */
  isApi?: (request: FastifyRequest) => boolean;
  /** The page for a request that is not an API call. */
  page?: (reply: FastifyReply, described: DescribedError, request: FastifyRequest, error: Error) => FastifyReply;
}

/** Sets the error handler of an encapsulated scope. */
export function useErrorRenderer(scope: FastifyInstance, rendering: ErrorRendering): void {
  const { name, clientError, intercept, adjust, isApi = () => true, page } = rendering;
  scope.setErrorHandler(async (original: Error, request, reply) => {
    let error = original;
    if (intercept !== undefined) {
      const outcome = await intercept(error, request, reply);
      if (!(outcome instanceof Error)) return outcome;
      error = outcome;
    }
    let described = describeError(error, clientError);
    if (adjust !== undefined) described = adjust(described, error);
    if (described.status >= 500) request.log.error({ err: error }, `${name} failed`);
    if (page === undefined || isApi(request)) return reply.status(described.status).send({ error: { code: described.code, message: described.message } });
    return page(reply, described, request, error);
  });
}

/** An HTML page as the reply. */
export function sendPage(reply: FastifyReply, status: number, html: string): FastifyReply {
  return reply.status(status).type('text/html; charset=utf-8').send(html);
}
