/**
 * The console's client of the admin API, typed by api-types.ts (generated from docs/openapi.json):
 * a path and method that the API does not have, a wrong body or a misread response field is a
 * compile error. Requests carry the portal session cookie; changes are JSON (the API refuses
 * cookie-authenticated changes in any other content type). A 401 sends the browser to sign in
 * and come back to the same page; the API's error messages are kept as they are.
 */
import type { components, paths } from './api-types.ts';

const PREFIX = '/admin/api';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type Route = keyof paths extends infer K ? (K extends `${typeof PREFIX}${infer Rest}` ? Rest : never) : never;
type Operation<R extends Route, M extends Method> = NonNullable<paths[`${typeof PREFIX}${R}`][M]>;
type MethodsOf<R extends Route> = { [M in Method]: paths[`${typeof PREFIX}${R}`][M] extends undefined ? never : M }[Method];

type Json<T> = T extends { content: { 'application/json': infer B } } ? B : T extends { content?: never } ? null : never;
type Success<O> = O extends { responses: infer R } ? { [S in keyof R]: S extends 200 | 201 | 204 ? Json<R[S]> : never }[keyof R] : never;
type BodyOf<O> = O extends { requestBody: { content: { 'application/json': infer B } } } ? B : O extends { requestBody?: { content: { 'application/json': infer B } } } ? B | undefined : undefined;
type PathParams<O> = O extends { parameters: { path: infer P } } ? P : undefined;
type QueryOf<O> = O extends { parameters: { query?: infer Q } } ? Q : undefined;

export type Schemas = components['schemas'];
/** What a successful call of `method path` returns. */
export type ApiResult<R extends Route, M extends MethodsOf<R>> = Success<Operation<R, M>>;

export interface CallOptions<O> {
  params?: PathParams<O>;
  query?: QueryOf<O>;
  body?: BodyOf<O>;
  signal?: AbortSignal;
}

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A mistake caught before anything is sent (the API would refuse it as well); `field` is marked. */
export class InputError extends Error {
  override readonly name = 'InputError';
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

let leaving = false;

/** The session ended or never was: sign in again, and come back to the same page. */
export function signInAgain(): void {
  if (leaving) return;
  leaving = true;
  const back = location.hash.startsWith('#/') ? `/console${location.hash}` : '/console';
  location.assign(`/sign-in?returnTo=${encodeURIComponent(back)}`);
}

export function markLeaving(): void {
  leaving = true;
}

function expand(route: string, params: Record<string, string> | undefined): string {
  return route.replace(/\{(\w+)\}/g, (_match, name: string) => {
    const value = params?.[name];
    if (value === undefined) throw new Error(`no value for {${name}} in ${route}`);
    return encodeURIComponent(value);
  });
}

function queryString(query: Record<string, string | number | boolean | undefined> | undefined): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

/** Calls the admin API: `api('get', '/accounts/{id}', { params: { id } })`. */
export async function api<R extends Route, M extends MethodsOf<R>>(method: M, route: R, options: CallOptions<Operation<R, M>> = {}): Promise<ApiResult<R, M>> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const init: RequestInit = { method: method.toUpperCase(), headers, credentials: 'same-origin', cache: 'no-store' };
  if (options.signal) init.signal = options.signal;
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(options.body);
  }
  const url = `${PREFIX}${expand(route, options.params)}${queryString(options.query)}`;
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') throw error;
    throw new ApiError(0, 'network', 'Portico did not answer (network error). Check the connection and try again.');
  }
  if (response.status === 401) {
    signInAgain();
    throw new ApiError(401, 'admin.unauthenticated', 'Your session has ended: taking you to the sign-in page…');
  }
  if (response.status === 204) return null as ApiResult<R, M>;
  const text = await response.text();
  let data: unknown = null;
  try {
    data = text === '' ? null : JSON.parse(text);
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = data !== null && typeof data === 'object' && 'error' in data ? (data as { error?: { code?: unknown; message?: unknown } }).error : undefined;
    const message = typeof error?.message === 'string' ? error.message : `Portico answered ${response.status} ${response.statusText}`.trim();
    throw new ApiError(response.status, typeof error?.code === 'string' ? error.code : `http.${response.status}`, message);
  }
  return data as ApiResult<R, M>;
}

export const isAbort = (error: unknown): boolean => error instanceof DOMException && error.name === 'AbortError';

/** The message shown for a failed action: the API's (or the input check's) verbatim. */
export function errorText(error: unknown): string {
  if (error instanceof ApiError || error instanceof InputError) return error.message;
  return `Unexpected error: ${error instanceof Error ? error.message : String(error)}`;
}
