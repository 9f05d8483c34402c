/**
 * Receiving a service provider's AuthnRequest: decode it from its binding, parse it, and decide
 * whether to honour it — known issuer, registered ACS URL, fresh, signed when the application
 * requires it, not seen before. Pure apart from the application lookup; the HTTP route decodes
 * the request with `decodeRedirect`/`decodePost` and hands the result here.
 *
 * The caller keeps `request.id` for the Response's InResponseTo, and sends the assertion only to
 * the returned `acsUrl` — never to a URL taken from the request without this check.
 */
import type { Element } from '@xmldom/xmldom';
import { AUTHN_COMPARISONS, type AuthnComparison, type RequestedAuthnContext } from './authn-context.ts';
import type { ReceivedMessage } from './binding.ts';
import { checkDestination, checkIssueInstant, checkReplay, checkRequestSignature, findIssuerApplication, type RequestCheckOptions, type RequestingApplication } from './message.ts';
import { BINDINGS, NS, attrOf, childElement, childElements, clip, parseSamlXml, parseInstant, refuse, textOf } from './xml.ts';

export { decodePost, decodeRedirect } from './binding.ts';
export { createReplayCache, type ReplayCache } from './replay-cache.ts';

export interface AuthnRequest {
  /** Echoed as InResponseTo; also the replay key. */
  id: string;
  issueInstant: Date;
  /** The service provider's entity ID. */
  issuer: string;
  acsUrl: string | undefined;
  acsIndex: number | undefined;
  /** The binding the SP wants the Response on; only HTTP-POST is served. */
  protocolBinding: string | undefined;
  /** NameIDPolicy Format. Informational: the application's configured format decides (as Identity Center does). */
  nameIdPolicyFormat: string | undefined;
  destination: string | undefined;
  forceAuthn: boolean;
  isPassive: boolean;
  /** What the SP asks of the authentication (authn-context.ts decides); absent: whatever the session did. */
  requestedAuthnContext?: RequestedAuthnContext | undefined;
}

/** What validating a request needs of an application. */
export interface AuthnRequestApplication extends RequestingApplication {
  acsUrls: string[];
}

export type AuthnRequestOptions<A extends AuthnRequestApplication> = RequestCheckOptions<A>;

export interface AcceptedAuthnRequest<A extends AuthnRequestApplication> {
  request: AuthnRequest;
  application: A;
  /** Where to POST the Response: a URL registered for the application. */
  acsUrl: string;
  relayState: string | undefined;
  /** Whether a signature was verified (always, for applications with a signing certificate). */
  signed: boolean;
}

const MAX_ID_LENGTH = 256;

/** Parses an AuthnRequest document; refuses anything that is not one. */
export function parseAuthnRequest(xml: string): AuthnRequest {
  return readAuthnRequest(authnRequestRoot(xml));
}

/** Decides whether to honour a decoded AuthnRequest for the application that sent it. */
export async function acceptAuthnRequest<A extends AuthnRequestApplication>(message: ReceivedMessage, options: AuthnRequestOptions<A>): Promise<AcceptedAuthnRequest<A>> {
  const root = authnRequestRoot(message.xml);
  let request = readAuthnRequest(root);
  const application = await findIssuerApplication(request.issuer, options.findApplication);

  const signature = checkRequestSignature(message, root, application);
  if (signature.signed && signature.binding === 'post') {
    // From here on, read only what the signature covers (xml-crypto's own advice against wrapping attacks).
    request = readAuthnRequest(authnRequestRoot(signature.signedXml));
    if (request.issuer !== application.entityId) refuse('saml.signature_invalid', 'the signed request names another issuer');
  }

  checkIssueInstant(request.issueInstant, options);
  checkDestination(request.destination, options.destinations);
  if (request.protocolBinding !== undefined && request.protocolBinding !== BINDINGS.post) {
    refuse('saml.binding_unsupported', `the request asks for the Response over ${clip(request.protocolBinding)}; Portico sends Responses with HTTP-POST only`);
  }
  const acsUrl = resolveAcsUrl(request, application);
  await checkReplay(request.issuer, request.id, options.replayCache);

  return { request, application, acsUrl, relayState: message.relayState, signed: signature.signed };
}

/**
 * The request's ACS URL must be one registered for the application, compared exactly: the
 * assertion goes wherever this says, so a lookalike URL must never pass. The index counts in the
 * application's list of ACS URLs (default first, as registered from metadata).
 */
export function resolveAcsUrl(request: Pick<AuthnRequest, 'acsUrl' | 'acsIndex'>, application: Pick<AuthnRequestApplication, 'acsUrls'>): string {
  if (request.acsUrl !== undefined) {
    if (!application.acsUrls.includes(request.acsUrl)) refuse('saml.acs_url_not_registered', `the AssertionConsumerServiceURL "${clip(request.acsUrl)}" is not registered for this application`);
    return request.acsUrl;
  }
  const url = application.acsUrls[request.acsIndex ?? 0];
  if (url === undefined) refuse('saml.acs_url_not_registered', `the AssertionConsumerServiceIndex ${request.acsIndex ?? 0} names no ACS URL registered for this application`);
  return url;
}

function authnRequestRoot(xml: string): Element {
  const root = parseSamlXml(xml).documentElement;
  if (!root || root.namespaceURI !== NS.protocol || root.localName !== 'AuthnRequest') {
    refuse('saml.request_malformed', `expected a SAML 2.0 AuthnRequest, not <${clip(root?.tagName ?? '')}>`);
  }
  return root;
}

function readAuthnRequest(root: Element): AuthnRequest {
  if (attrOf(root, 'Version') !== '2.0') refuse('saml.request_malformed', 'the AuthnRequest is not SAML version 2.0');
  const id = attrOf(root, 'ID') ?? '';
  if (id === '' || id.length > MAX_ID_LENGTH || /\s/.test(id)) refuse('saml.request_malformed', 'the AuthnRequest has no valid ID');
  const issuer = textOf(childElement(root, NS.assertion, 'Issuer'));
  if (issuer === '') refuse('saml.request_malformed', 'the AuthnRequest has no Issuer (the entity ID of the service provider)');

  const acsUrl = attrOf(root, 'AssertionConsumerServiceURL');
  const acsIndex = attrOf(root, 'AssertionConsumerServiceIndex');
  // SAML core 3.4.1: the two are mutually exclusive.
  if (acsUrl !== undefined && acsIndex !== undefined) refuse('saml.request_malformed', 'the AuthnRequest gives both AssertionConsumerServiceURL and AssertionConsumerServiceIndex');
  if (acsIndex !== undefined && !/^\d{1,5}$/.test(acsIndex)) refuse('saml.request_malformed', `the AssertionConsumerServiceIndex "${clip(acsIndex)}" is not a number`);

  const policy = childElement(root, NS.protocol, 'NameIDPolicy');
  return {
    id,
    issueInstant: parseInstant(attrOf(root, 'IssueInstant'), 'the IssueInstant'),
    issuer,
    acsUrl,
    acsIndex: acsIndex === undefined ? undefined : Number(acsIndex),
    protocolBinding: attrOf(root, 'ProtocolBinding'),
    nameIdPolicyFormat: policy ? attrOf(policy, 'Format') : undefined,
    destination: attrOf(root, 'Destination'),
    forceAuthn: xsBoolean(root, 'ForceAuthn'),
    isPassive: xsBoolean(root, 'IsPassive'),
    requestedAuthnContext: readRequestedAuthnContext(root),
  };
}

/** At most this many class or declaration references are read; a real SP lists a handful. */
const MAX_AUTHN_CONTEXT_REFS = 16;

function readRequestedAuthnContext(root: Element): RequestedAuthnContext | undefined {
  const element = childElement(root, NS.protocol, 'RequestedAuthnContext');
  if (element === undefined) return undefined;
  const comparison = attrOf(element, 'Comparison') ?? 'exact';
  if (!(AUTHN_COMPARISONS as readonly string[]).includes(comparison)) {
    refuse('saml.request_malformed', `the RequestedAuthnContext Comparison must be one of ${AUTHN_COMPARISONS.join(', ')}, not "${clip(comparison)}"`);
  }
  const classRefs = childElements(element, NS.assertion, 'AuthnContextClassRef').map(textOf);
  const declRefs = childElements(element, NS.assertion, 'AuthnContextDeclRef').map(textOf);
  if (classRefs.length + declRefs.length === 0) refuse('saml.request_malformed', 'the RequestedAuthnContext names no AuthnContextClassRef');
  if (classRefs.length + declRefs.length > MAX_AUTHN_CONTEXT_REFS) refuse('saml.request_malformed', `the RequestedAuthnContext names more than ${MAX_AUTHN_CONTEXT_REFS} contexts`);
  if ([...classRefs, ...declRefs].some((ref) => ref === '' || ref.length > 1024)) refuse('saml.request_malformed', 'the RequestedAuthnContext has an empty or overlong context reference');
  return { comparison: comparison as AuthnComparison, classRefs, declRefs };
}

function xsBoolean(element: Element, name: string): boolean {
  const value = attrOf(element, name);
  if (value === undefined || value === 'false' || value === '0') return false;
  if (value === 'true' || value === '1') return true;
  refuse('saml.request_malformed', `${name} must be true or false, not "${clip(value)}"`);
}
