/**
 * The HTTP platform: what every Portico face (sign-in, portal, admin API, console) shares —
 * the session on a request, security headers, the body-parser policy, the error → response
 * renderer and the page shell. Faces register their routes in their own encapsulated scope and
 * call these on it; protocol edges (IdentityStore API, SAML StatusCodes) keep their own formats.
 */
export { parseCookies, serializeCookie, type CookieOptions } from './cookies.ts';
export { appendSetCookie, createSessionReader, secureCookies, SESSION_COOKIE, type CurrentSession, type SessionReader, type SessionReaderOptions } from './session.ts';
export { useSecurityHeaders, type SecurityHeaderPolicy } from './security-headers.ts';
export { mediaType, useBodyPolicy, type BodyPolicy, type FormFields } from './body.ts';
export { describeError, sendPage, useErrorRenderer, type ClientErrorWords, type DescribedError, type ErrorRendering } from './errors.ts';
export { escapeHtml, renderPageShell, type PageShell } from './page-shell.ts';
