/**
 * Driving Portico's OpenID provider as a browser would, without one: a cookie jar for Portico's
 * origin, redirects followed by hand until the browser would leave Portico (the relying party's
 * redirect URI), and Portico's sign-in done through its JSON API.
 */
import assert from 'node:assert/strict';

export class CookieJar {
  private readonly cookies = new Map<string, string>();

  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  store(setCookie: string[]): void {
    for (const line of setCookie) {
      const [pair = '', ...attributes] = line.split(';');
      const index = pair.indexOf('=');
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1).trim();
      const expired = value === '' || attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  has(name: string): boolean {
    return this.cookies.has(name);
  }
}

export interface Step {
  status: number;
  url: string;
  location: string | null;
  text: string;
}

/** One request with the jar; cookies it sets are kept. */
export async function request(jar: CookieJar, url: string, init: RequestInit = {}): Promise<Step> {
  const response = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string> | undefined), cookie: jar.header() } });
  jar.store(response.headers.getSetCookie());
  const location = response.headers.get('location');
  return { status: response.status, url, location: location === null ? null : new URL(location, url).toString(), text: await response.text() };
}

/**
 * Follows redirects while they stay on Portico (`base`); returns the first step that leaves it
 * (a redirect to the relying party) or answers without redirecting.
 */
export async function follow(jar: CookieJar, base: string, url: string): Promise<Step> {
  let step = await request(jar, url);
  for (let hops = 0; hops < 15; hops++) {
    // Leaving Portico, or arriving at its sign-in page (the caller signs in).
    if (step.location === null || !step.location.startsWith(base) || new URL(step.location).pathname === '/sign-in') return step;
    step = await request(jar, step.location);
  }
  assert.fail(`too many redirects from ${url}`);
}

/** Signs in to Portico through its JSON API; the session cookie goes into the jar. */
export async function signIn(jar: CookieJar, base: string, username: string, password: string): Promise<void> {
  const response = await fetch(`${base}/api/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  assert.equal(response.status, 200, `${username} signs in`);
  jar.store(response.headers.getSetCookie());
}

/** Authorization request → (sign-in) → the redirect back to the relying party, as a URL. */
export async function authorize(jar: CookieJar, base: string, authorizationUrl: URL, credentials?: { username: string; password: string }): Promise<{ step: Step; callback: URL | null }> {
  let step = await follow(jar, base, authorizationUrl.toString());
  if (step.location === null && credentials !== undefined) assert.fail(`expected a redirect, got ${step.status}: ${step.text.slice(0, 300)}`);
  if (step.location !== null && new URL(step.location).pathname === '/sign-in') {
    assert.ok(credentials, 'Portico asks for a sign-in');
    await signIn(jar, base, credentials.username, credentials.password);
    const returnTo = new URL(step.location).searchParams.get('returnTo');
    assert.ok(returnTo);
    step = await follow(jar, base, `${base}${returnTo}`);
  }
  return { step, callback: step.location !== null && !step.location.startsWith(base) ? new URL(step.location) : null };
}
