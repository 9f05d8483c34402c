/** The HTTP face of sign-in and the server's transport settings. */
export { BODY_LIMIT, registerSignInRoutes, SESSION_COOKIE, type SignInRoutesDeps } from './routes.ts';
export { CSRF_COOKIE } from './csrf.ts';
export { parseCookies } from './cookies.ts';
export { safeReturnTo } from './return-to.ts';
export { cookieSecurity, httpServerOptions, type HttpServerOptions } from './transport.ts';
