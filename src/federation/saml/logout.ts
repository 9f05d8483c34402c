/**
 * The IdP side of single logout, SP-initiated: a service provider sends a LogoutRequest over
 * HTTP-Redirect; Portico ends the session (the caller's part) and answers with a signed
 * LogoutResponse over HTTP-Redirect. Same checks as an AuthnRequest: known issuer, signature
 * when the application has a certificate, fresh, addressed to us, not replayed.
 */
import type { Element } from '@xmldom/xmldom';
import { encodeRedirect, type ReceivedMessage } from './binding.ts';
import { DEFAULT_CLOCK_SKEW_MS, checkDestination, checkIssueInstant, checkReplay, checkRequestSignature, findIssuerApplication, type RequestCheckOptions, type RequestingApplication } from './message.ts';
import type { IdentityProvider } from './response.ts';
import { NS, STATUS_SUCCESS, attr, attrOf, childElement, childElements, clip, instant, newId, parseInstant, parseSamlXml, refuse, text, textOf } from './xml.ts';

export interface LogoutRequest {
  id: string;
  issueInstant: Date;
  issuer: string;
  /** The NameID the application knows the user by (as Portico issued it). */
  nameId: { value: string; format: string | undefined; spNameQualifier: string | undefined };
  /** The sessions to end; none means every session of that NameID at this application. */
  sessionIndexes: string[];
  destination: string | undefined;
  notOnOrAfter: Date | undefined;
}

export interface AcceptedLogoutRequest<A extends RequestingApplication> {
  request: LogoutRequest;
  application: A;
  relayState: string | undefined;
  signed: boolean;
}

export function parseLogoutRequest(xml: string): LogoutRequest {
  return readLogoutRequest(logoutRequestRoot(xml));
}

export async function acceptLogoutRequest<A extends RequestingApplication>(message: ReceivedMessage, options: RequestCheckOptions<A>): Promise<AcceptedLogoutRequest<A>> {
  const root = logoutRequestRoot(message.xml);
  let request = readLogoutRequest(root);
  const application = await findIssuerApplication(request.issuer, options.findApplication);
  const signature = checkRequestSignature(message, root, application);
  if (signature.signed && signature.binding === 'post') {
    request = readLogoutRequest(logoutRequestRoot(signature.signedXml));
    if (request.issuer !== application.entityId) refuse('saml.signature_invalid', 'the signed request names another issuer');
  }
  checkIssueInstant(request.issueInstant, options);
  const now = (options.now ?? new Date()).getTime();
  if (request.notOnOrAfter !== undefined && now - (options.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS) >= request.notOnOrAfter.getTime()) {
    refuse('saml.request_expired', 'the logout request has expired (NotOnOrAfter)');
  }
  checkDestination(request.destination, options.destinations);
  await checkReplay(request.issuer, request.id, options.replayCache);
  return { request, application, relayState: message.relayState, signed: signature.signed };
}

export interface LogoutResponseInput {
  idp: IdentityProvider;
  /** The application's SingleLogoutService URL. */
  destination: string;
  /** The LogoutRequest's ID. */
  inResponseTo: string;
  now?: Date | undefined;
}

/** A LogoutResponse with status Success. */
export function buildLogoutResponse(input: LogoutResponseInput): { xml: string; id: string } {
  const id = newId();
  const xml =
    `<samlp:LogoutResponse xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="${id}" Version="2.0" IssueInstant="${instant(input.now ?? new Date())}"` +
    ` Destination="${attr(input.destination)}" InResponseTo="${attr(input.inResponseTo)}">` +
    `<saml:Issuer>${text(input.idp.entityId)}</saml:Issuer>` +
    `<samlp:Status><samlp:StatusCode Value="${STATUS_SUCCESS}"/></samlp:Status>` +
    `</samlp:LogoutResponse>`;
  return { xml, id };
}

/** The URL that carries a Success LogoutResponse back to the application, signed over the query (HTTP-Redirect). */
export function logoutResponseUrl(input: LogoutResponseInput & { relayState?: string | undefined }): string {
  const { xml } = buildLogoutResponse(input);
  return encodeRedirect(input.destination, xml, { parameter: 'SAMLResponse', relayState: input.relayState, signingKeyPem: input.idp.signing.keyPem });
}

function logoutRequestRoot(xml: string): Element {
  const root = parseSamlXml(xml).documentElement;
  if (!root || root.namespaceURI !== NS.protocol || root.localName !== 'LogoutRequest') {
    refuse('saml.request_malformed', `expected a SAML 2.0 LogoutRequest, not <${clip(root?.tagName ?? '')}>`);
  }
  return root;
}

function readLogoutRequest(root: Element): LogoutRequest {
  if (attrOf(root, 'Version') !== '2.0') refuse('saml.request_malformed', 'the LogoutRequest is not SAML version 2.0');
  const id = attrOf(root, 'ID') ?? '';
  if (id === '' || id.length > 256 || /\s/.test(id)) refuse('saml.request_malformed', 'the LogoutRequest has no valid ID');
  const issuer = textOf(childElement(root, NS.assertion, 'Issuer'));
  if (issuer === '') refuse('saml.request_malformed', 'the LogoutRequest has no Issuer (the entity ID of the service provider)');
  if (childElement(root, NS.assertion, 'EncryptedID')) refuse('saml.request_malformed', 'an encrypted NameID (EncryptedID) in a LogoutRequest is not supported');
  const nameId = childElement(root, NS.assertion, 'NameID');
  const value = textOf(nameId);
  if (nameId === undefined || value === '') refuse('saml.request_malformed', 'the LogoutRequest names no user (NameID)');
  const notOnOrAfter = attrOf(root, 'NotOnOrAfter');
  return {
    id,
    issueInstant: parseInstant(attrOf(root, 'IssueInstant'), 'the IssueInstant'),
    issuer,
    nameId: { value, format: attrOf(nameId, 'Format'), spNameQualifier: attrOf(nameId, 'SPNameQualifier') },
    sessionIndexes: childElements(root, NS.protocol, 'SessionIndex').map((element) => textOf(element)).filter(Boolean),
    destination: attrOf(root, 'Destination'),
    notOnOrAfter: notOnOrAfter === undefined ? undefined : parseInstant(notOnOrAfter, 'the NotOnOrAfter'),
  };
}
