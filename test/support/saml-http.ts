/**
 * Driving Portico's SAML endpoints over HTTP as a browser would, without a browser: cookies by
 * hand, redirects not followed, and the HTTP-POST page read back into its form fields.
 */
import assert from 'node:assert/strict';

export interface PostedForm {
  action: string;
  fields: Record<string, string>;
}

const unescapeHtml = (value: string) => value.replace(/&#(\d+);/g, (_match, code: string) => String.fromCharCode(Number(code)));

/** The auto-submitting form of Portico's POST page; fails the test when the page has none. */
export function postedForm(html: string): PostedForm {
  const action = /<form method="post" action="([^"]*)" data-auto-submit>/.exec(html)?.[1];
  assert.ok(action !== undefined, `expected a SAML POST page, got: ${html.slice(0, 400)}`);
  const fields: Record<string, string> = {};
  for (const match of html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) fields[unescapeHtml(match[1] ?? '')] = unescapeHtml(match[2] ?? '');
  return { action: unescapeHtml(action), fields };
}

export interface Fetched {
  status: number;
  location: string | null;
  text: string;
  setCookie: string[];
}

export async function get(url: string, cookie?: string): Promise<Fetched> {
  const response = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
  return { status: response.status, location: response.headers.get('location'), text: await response.text(), setCookie: response.headers.getSetCookie() };
}

export async function postForm(url: string, fields: Record<string, string>, cookie?: string): Promise<Fetched> {
  const response = await fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: response.status, location: response.headers.get('location'), text: await response.text(), setCookie: response.headers.getSetCookie() };
}

/** Signs in through the JSON API and returns the session cookie (`name=value`). */
export async function signInCookie(baseUrl: string, username: string, password: string): Promise<string> {
  const response = await fetch(`${baseUrl}/api/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  assert.equal(response.status, 200, `${username} signs in`);
  const cookie = response.headers.get('set-cookie')?.split(';')[0];
  assert.ok(cookie);
  return cookie;
}

/** Calls the admin API with the bootstrap token; fails the test on an unexpected status. */
export async function adminApi<T = Record<string, unknown>>(baseUrl: string, token: string, method: string, path: string, body?: unknown, expected = method === 'POST' ? 201 : 200): Promise<T> {
  const response = await fetch(`${baseUrl}/admin/api${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  assert.equal(response.status, expected, `${method} ${path}: ${text.slice(0, 300)}`);
  return (text ? JSON.parse(text) : {}) as T;
}
