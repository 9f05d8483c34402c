/**
 * Checks every request from a service provider goes through, whatever its kind (AuthnRequest,
 * LogoutRequest): who sent it, whether it is signed as its application requires, whether it is
 * fresh, and whether it was meant for us.
 */
import type { Element } from '@xmldom/xmldom';
import { verifyQuerySignature, type ReceivedMessage } from './binding.ts';
import { x509 } from './keys.ts';
import type { ReplayCache } from './replay-cache.ts';
import { envelopedSignature, verifyEnvelopedSignature } from './signature.ts';
import { clip, refuse } from './xml.ts';

/** What a request check needs of an application. */
export interface RequestingApplication {
  entityId: string;
  /** PEM; when set, requests must be signed with it. */
  signingCertificate?: string | undefined;
}

export type FindApplication<A> = (entityId: string) => A | undefined | Promise<A | undefined>;

export const DEFAULT_CLOCK_SKEW_MS = 5 * 60_000;

export interface RequestCheckOptions<A> {
  /** Looks up the application whose entity ID issued the request. */
  findApplication: FindApplication<A>;
  /** Defaults to the current time. */
  now?: Date | undefined;
  /** Accepted difference between the service provider's clock and ours; 5 minutes by default. */
  clockSkewMs?: number | undefined;
  /**
   * The URLs at which Portico receives this kind of request. A request whose Destination names
   * another URL was meant for someone else and is refused; unset skips the check.
   */
  destinations?: readonly string[] | undefined;
  /** When given, a request ID seen before (per issuer) is refused. */
  replayCache?: ReplayCache | undefined;
}

export async function findIssuerApplication<A>(issuer: string, findApplication: FindApplication<A>): Promise<A> {
  const application = await findApplication(issuer);
  if (application === undefined) refuse('saml.unknown_application', `the service provider "${clip(issuer)}" is not an application registered with Portico`);
  return application;
}

export type SignatureOutcome = { signed: false } | { signed: true; binding: 'redirect' } | { signed: true; binding: 'post'; signedXml: string };

/**
 * Verifies the message's signature when the application has a signing certificate — it is then
 * required. Without a certificate nothing can be verified, so a signature is ignored and the
 * request counts as unsigned.
 */
export function checkRequestSignature(message: ReceivedMessage, root: Element, application: RequestingApplication): SignatureOutcome {
  if (application.signingCertificate === undefined) return { signed: false };
  const certificate = application.signingCertificate;
  if (message.binding === 'redirect') {
    // An XML signature inside a redirect message is meaningless (the binding strips it); only the query signature counts.
    if (message.querySignature === undefined) refuse('saml.signature_required', 'this application must sign its requests, and the request carries no signature (SigAlg and Signature)');
    verifyQuerySignature(message.querySignature, x509(certificate, "the application's signing certificate"));
    return { signed: true, binding: 'redirect' };
  }
  const signature = envelopedSignature(root);
  if (signature === undefined) refuse('saml.signature_required', 'this application must sign its requests, and the request carries no signature');
  return { signed: true, binding: 'post', signedXml: verifyEnvelopedSignature(message.xml, root, signature, certificate) };
}

/** IssueInstant must lie within the clock skew of now, on either side. */
export function checkIssueInstant(issueInstant: Date, options: { now?: Date | undefined; clockSkewMs?: number | undefined }): void {
  const now = (options.now ?? new Date()).getTime();
  const skew = options.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS;
  const span = skew % 60_000 === 0 ? `${skew / 60_000} minute${skew === 60_000 ? '' : 's'}` : `${Math.round(skew / 1000)} seconds`;
  if (issueInstant.getTime() < now - skew) refuse('saml.request_expired', `the request was issued more than ${span} ago; start again from the application`);
  if (issueInstant.getTime() > now + skew) refuse('saml.request_not_yet_valid', `the request was issued more than ${span} in the future; check the service provider's clock`);
}

export function checkDestination(destination: string | undefined, destinations: readonly string[] | undefined): void {
  if (destination === undefined || destinations === undefined) return;
  if (!destinations.includes(destination)) refuse('saml.destination_mismatch', `the request is addressed to "${clip(destination)}", not to this identity provider`);
}

/** Call last, once everything else passed, so a refused request does not use up its ID. */
export async function checkReplay(issuer: string, id: string, replayCache: ReplayCache | undefined): Promise<void> {
  if (await replayCache?.seen(`${issuer}\n${id}`)) refuse('saml.request_replayed', 'this request was already used; start again from the application');
}
