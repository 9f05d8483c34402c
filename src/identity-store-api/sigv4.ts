/**
 * AWS Signature Version 4 verification, as AWS services do it for header-signed requests
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html).
 * Pure apart from the secret lookup: the request comes in as data, the clock as a value.
 *
 * Failures carry AWS's error codes and messages for JSON 1.1 services (DynamoDB, Cognito and the
 * IdentityStore answer them with HTTP 400; REST services such as Lambda answer 403), so an SDK
 * raises the same exception it would against AWS — including InvalidSignatureException for a
 * skewed clock, which the AWS SDKs recognise and correct from the response's Date header.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
/** AWS accepts a request signed at most five minutes before or after its own clock. */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

export type SigV4ErrorCode =
  | 'MissingAuthenticationTokenException'
  | 'IncompleteSignatureException'
  | 'InvalidSignatureException'
  | 'UnrecognizedClientException';

export class SigV4Error extends Error {
  readonly code: SigV4ErrorCode;
  /** The access key the request named, when it got that far (for the audit log). */
  readonly accessKeyId: string | null;

  constructor(code: SigV4ErrorCode, message: string, accessKeyId: string | null = null) {
    super(message);
    this.name = 'SigV4Error';
    this.code = code;
    this.accessKeyId = accessKeyId;
  }
}

export interface SignedRequest {
  method: string;
  /** The path exactly as it arrived (still percent-encoded), without the query. */
  path: string;
  /** The raw query string, without `?`; empty when there is none. */
  query: string;
  /** Header names (any case) and values in arrival order; repeated names stay separate entries. */
  headers: ReadonlyArray<readonly [string, string]>;
  body: Buffer;
}

export interface VerifyOptions {
  /** The signing name the credential scope must name, e.g. `identitystore`. */
  service: string;
  now: Date;
  /** The secret of a live access key; undefined for an unknown or revoked one. */
  secretFor: (accessKeyId: string) => Promise<string | undefined>;
  maxSkewMs?: number;
  /** Keeps derived signing keys between requests (they change once a day per key and region). */
  signingKeys?: SigningKeyCache;
}

/** Signing keys by secret, date, region and service: four HMACs per request saved. */
export class SigningKeyCache {
  private readonly keys = new Map<string, Buffer>();
  constructor(private readonly maxEntries = 1000) {}

  get(secret: string, date: string, region: string, service: string): Buffer {
    const name = `${date}/${region}/${service}/${secret}`;
    let key = this.keys.get(name);
    if (key === undefined) {
      key = signingKey(secret, date, region, service);
      // Yesterday's keys and forgotten secrets go when it fills: a bound, not a policy.
      if (this.keys.size >= this.maxEntries) this.keys.clear();
      this.keys.set(name, key);
    }
    return key;
  }
}

export interface VerifiedRequest {
  accessKeyId: string;
  /** The region the client signed for: any is accepted, and recorded. */
  region: string;
  signedAt: Date;
}

export interface AuthorizationHeader {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  terminator: string;
  signedHeaders: string[];
  signature: string;
}

const INVALID_TOKEN = 'The security token included in the request is invalid.';
const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

/**
 * Checks the request's SigV4 signature; resolves with who signed it, or throws a SigV4Error.
 *
 * @example
 * const { accessKeyId, region } = await verifySigV4(request, { service: 'identitystore', now: new Date(), secretFor });
 */
export async function verifySigV4(request: SignedRequest, options: VerifyOptions): Promise<VerifiedRequest> {
  const headers = indexHeaders(request.headers);
  const authorization = headers.get('authorization') ?? [];
  if (authorization.length === 0) {
    throw new SigV4Error('MissingAuthenticationTokenException', 'Missing Authentication Token');
  }
  if (authorization.length > 1) throw new SigV4Error('IncompleteSignatureException', 'The request carries more than one Authorization header.');
  const auth = parseAuthorization(authorization[0] ?? '');

  const amzDate = headers.get('x-amz-date') ?? [];
  if (amzDate.length !== 1) {
    throw new SigV4Error(
      'IncompleteSignatureException',
      "Authorization header requires existence of exactly one 'X-Amz-Date' header.",
      auth.accessKeyId,
    );
  }
  const amzDateText = (amzDate[0] ?? '').trim();
  const signedAt = parseAmzDate(amzDateText);
  if (!signedAt) {
    throw new SigV4Error('IncompleteSignatureException', `Date must be in ISO-8601 'basic format'. Got '${amzDateText}'.`, auth.accessKeyId);
  }
  checkScope(auth, amzDateText, options.service);
  for (const required of ['host', 'x-amz-date']) {
    if (!auth.signedHeaders.includes(required)) {
      throw new SigV4Error('InvalidSignatureException', `'${required}' must be a 'SignedHeader' in the AWS Authorization.`, auth.accessKeyId);
    }
  }
  // AWS does not insist on this one; we do, since it names the operation the signature authorises.
  if (headers.has('x-amz-target') && !auth.signedHeaders.includes('x-amz-target')) {
    throw new SigV4Error('InvalidSignatureException', "'x-amz-target' must be a 'SignedHeader' in the AWS Authorization.", auth.accessKeyId);
  }
  checkSkew(signedAt, amzDateText, options.now, options.maxSkewMs ?? MAX_CLOCK_SKEW_MS, auth.accessKeyId);

  // Portico issues long-term keys only: a session token means temporary credentials from AWS.
  if (headers.has('x-amz-security-token')) {
    throw new SigV4Error('UnrecognizedClientException', INVALID_TOKEN, auth.accessKeyId);
  }
  const secret = await options.secretFor(auth.accessKeyId);
  if (secret === undefined) throw new SigV4Error('UnrecognizedClientException', INVALID_TOKEN, auth.accessKeyId);

  const bodyHash = sha256Hex(request.body);
  const declared = headers.get('x-amz-content-sha256') ?? [];
  // The declared hash is what the client signed; it must describe the body that actually came.
  if (declared.length > 0 && (declared.length > 1 || (declared[0] ?? '').trim().toLowerCase() !== bodyHash)) {
    throw new SigV4Error('InvalidSignatureException', "The provided 'x-amz-content-sha256' header does not match what was computed.", auth.accessKeyId);
  }

  const canonical = canonicalRequest(request, auth.signedHeaders, bodyHash, headers);
  const scope = `${auth.date}/${auth.region}/${auth.service}/${auth.terminator}`;
  const key = options.signingKeys ? options.signingKeys.get(secret, auth.date, auth.region, auth.service) : signingKey(secret, auth.date, auth.region, auth.service);
  const expected = hmac(key, stringToSign(amzDateText, scope, canonical)).toString('hex');
  if (!constantTimeEqual(expected, auth.signature)) {
    throw new SigV4Error('InvalidSignatureException', SIGNATURE_MISMATCH, auth.accessKeyId);
  }
  return { accessKeyId: auth.accessKeyId, region: auth.region, signedAt };
}

/** Parses `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`. */
export function parseAuthorization(value: string): AuthorizationHeader {
  const trimmed = value.trim();
  const space = trimmed.indexOf(' ');
  const algorithm = space < 0 ? trimmed : trimmed.slice(0, space);
  if (algorithm !== SIGV4_ALGORITHM) {
    throw new SigV4Error('IncompleteSignatureException', `Unsupported AWS 'algorithm': '${algorithm}'.`);
  }
  const fields = new Map<string, string>();
  for (const part of trimmed.slice(space + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const missing = ['Credential', 'SignedHeaders', 'Signature'].filter((name) => !fields.get(name));
  if (missing.length > 0) {
    throw new SigV4Error('IncompleteSignatureException', missing.map((name) => `Authorization header requires '${name}' parameter.`).join(' '));
  }
  const credential = (fields.get('Credential') ?? '').split('/');
  if (credential.length !== 5 || credential.some((part) => part.length === 0)) {
    throw new SigV4Error(
      'IncompleteSignatureException',
      "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term.",
    );
  }
  const [accessKeyId = '', date = '', region = '', service = '', terminator = ''] = credential;
  const signedHeaders = (fields.get('SignedHeaders') ?? '').split(';').map((name) => name.trim().toLowerCase()).filter(Boolean);
  const signature = (fields.get('Signature') ?? '').toLowerCase();
  return { accessKeyId, date, region, service, terminator, signedHeaders, signature };
}

function checkScope(auth: AuthorizationHeader, amzDate: string, service: string): void {
  if (auth.terminator !== 'aws4_request') {
    throw new SigV4Error('InvalidSignatureException', `Credential should be scoped with a valid terminator: 'aws4_request', not '${auth.terminator}'.`, auth.accessKeyId);
  }
  if (auth.service !== service) {
    throw new SigV4Error('InvalidSignatureException', `Credential should be scoped to correct service: '${service}'.`, auth.accessKeyId);
  }
  if (!/^[a-z0-9-]{1,64}$/.test(auth.region)) {
    throw new SigV4Error('InvalidSignatureException', 'Credential should be scoped to a valid region.', auth.accessKeyId);
  }
  if (auth.date !== amzDate.slice(0, 8)) {
    throw new SigV4Error(
      'InvalidSignatureException',
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${auth.date}' != '${amzDate.slice(0, 8)}', from '${amzDate}'.`,
      auth.accessKeyId,
    );
  }
}

function checkSkew(signedAt: Date, amzDate: string, now: Date, maxSkewMs: number, accessKeyId: string): void {
  const skew = now.getTime() - signedAt.getTime();
  if (skew > maxSkewMs) {
    throw new SigV4Error(
      'InvalidSignatureException',
      `Signature expired: ${amzDate} is now earlier than ${formatAmzDate(new Date(now.getTime() - maxSkewMs))} (${formatAmzDate(now)} - ${maxSkewMs / 60_000} min.)`,
      accessKeyId,
    );
  }
  if (-skew > maxSkewMs) {
    throw new SigV4Error(
      'InvalidSignatureException',
      `Signature not yet current: ${amzDate} is still later than ${formatAmzDate(new Date(now.getTime() + maxSkewMs))} (${formatAmzDate(now)} + ${maxSkewMs / 60_000} min.)`,
      accessKeyId,
    );
  }
}

/** The canonical request of SigV4, for the given signed header names (lower-case). */
export function canonicalRequest(
  request: SignedRequest,
  signedHeaders: readonly string[],
  payloadHash: string,
  index: ReadonlyMap<string, string[]> = indexHeaders(request.headers),
): string {
  const names = [...new Set(signedHeaders.map((name) => name.toLowerCase()))].sort();
  const headers = names.map((name) => `${name}:${(index.get(name) ?? []).map(canonicalHeaderValue).join(',')}\n`).join('');
  return [request.method.toUpperCase(), canonicalUri(request.path), canonicalQuery(request.query), headers, names.join(';'), payloadHash].join('\n');
}

/**
 * The canonical URI for services other than S3: dot segments and empty segments removed, then
 * every byte outside RFC 3986's unreserved set encoded, including the `%` of an already encoded
 * path (AWS's "double encoding"; the AWS SDKs sign the same way).
 */
export function canonicalUri(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const normalized = `${path.startsWith('/') ? '/' : ''}${segments.join('/')}${segments.length > 0 && path.endsWith('/') ? '/' : ''}`;
  return uriEncode(normalized || '/').replace(/%2F/g, '/');
}

/** Query parameters decoded, re-encoded strictly, sorted by name then value. */
export function canonicalQuery(query: string): string {
  if (query === '') return '';
  const pairs = query
    .split('&')
    .filter((part) => part.length > 0)
    .map((part) => {
      const eq = part.indexOf('=');
      const name = eq < 0 ? part : part.slice(0, eq);
      const value = eq < 0 ? '' : part.slice(eq + 1);
      return [uriEncode(decodeQueryPart(name)), uriEncode(decodeQueryPart(value))] as const;
    });
  pairs.sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([name, value]) => `${name}=${value}`).join('&');
}

export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return [SIGV4_ALGORITHM, amzDate, scope, sha256Hex(Buffer.from(canonical, 'utf8'))].join('\n');
}

export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  const kDate = hmac(Buffer.from(`AWS4${secret}`, 'utf8'), date);
  return hmac(hmac(hmac(kDate, region), service), 'aws4_request');
}

/** `20150830T123600Z` → Date; null unless it is exactly that basic ISO-8601 form and a real instant. */
export function parseAmzDate(value: string): Date | null {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!match) return null;
  const [, y, mo, d, h, mi, s] = match.map(Number) as [number, number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  // Date.UTC rolls 20150231 over to March; a rolled-over value is not the date that was signed.
  return date.getUTCMonth() === mo - 1 && date.getUTCDate() === d && date.getUTCHours() === h && date.getUTCMinutes() === mi ? date : null;
}

export function formatAmzDate(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** The values of each header by lower-case name, in arrival order: read once per request. */
function indexHeaders(headers: SignedRequest['headers']): Map<string, string[]> {
  const index = new Map<string, string[]>();
  for (const [key, value] of headers) {
    const name = key.toLowerCase();
    const values = index.get(name);
    if (values === undefined) index.set(name, [value]);
    else values.push(value);
  }
  return index;
}

function canonicalHeaderValue(value: string): string {
  return value.trim().replace(/\s+/g, ' ');
}

function decodeQueryPart(part: string): string {
  try {
    return decodeURIComponent(part.replace(/\+/g, '%20'));
  } catch {
    return part;
  }
}

/** RFC 3986 encoding: everything but A–Z a–z 0–9 - . _ ~ as %XX of its UTF-8 bytes. */
function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** Compares without revealing, through timing, how many leading characters matched. */
function constantTimeEqual(expected: string, given: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given, 'utf8');
  if (a.length !== b.length) {
    // Still spend the comparison, so a wrong length answers no faster than a wrong value.
    timingSafeEqual(a, a);
    return false;
  }
  return timingSafeEqual(a, b);
}
