/** The cookie helpers moved to the HTTP platform layer; kept here so existing imports stay valid. */
export { parseCookies, serializeCookie, type CookieOptions } from '#src/platform/http/cookies.ts';
