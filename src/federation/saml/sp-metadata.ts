/**
 * Parses the SAML 2.0 metadata an administrator uploads for a service provider. The XML comes
 * from outside, so anything with a DOCTYPE or entity declaration is refused before parsing: that
 * shuts out entity-expansion bombs (billion laughs) and external entities (XXE) whatever the
 * parser would do with them. Size is capped for the same reason, and every refusal says what to fix.
 */
import { X509Certificate } from 'node:crypto';
import { DOMParser, type Element } from '@xmldom/xmldom';
import { AppError } from '#src/shared/errors.ts';

export interface SpMetadata {
  entityId: string;
  /** AssertionConsumerService endpoints, default first (isDefault=true, else lowest index, else document order). */
  acsUrls: Array<{ url: string; binding: string; index: number | null; isDefault: boolean }>;
  nameIdFormats: string[];
  /** base64 DER (whitespace removed) of KeyDescriptor use="signing" or without use. */
  signingCertificates: string[];
  /** base64 DER of KeyDescriptor use="encryption" or without use. */
  encryptionCertificates: string[];
  authnRequestsSigned: boolean;
  wantAssertionsSigned: boolean;
  /** SingleLogoutService endpoints. */
  logoutUrls: Array<{ url: string; binding: string }>;
}

const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const DS = 'http://www.w3.org/2000/09/xmldsig#';
const SAML2_PROTOCOL = 'urn:oasis:names:tc:SAML:2.0:protocol';
export const HTTP_POST_BINDING = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const MAX_BYTES = 1024 * 1024;
const MAX_ENTITY_ID = 1024;

function refuse(message: string): never {
  throw new AppError('access.metadata_invalid', message, { status: 400 });
}

/** Input echoed in a message is cut short and kept on one line. */
const clip = (text: string) => {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > 100 ? `${flat.slice(0, 100)}…` : flat;
};

export function parseSpMetadata(xml: string): SpMetadata {
  if (Buffer.byteLength(xml, 'utf8') > MAX_BYTES) refuse('the metadata is larger than 1 MiB');
  if (xml.trim() === '') refuse('the metadata is empty');
  // Matched anywhere (even inside a comment): SP metadata never needs a DTD, so no exceptions.
  if (/<!DOCTYPE/i.test(xml)) refuse('the metadata contains a DOCTYPE, which is not allowed (it enables entity expansion and external entities)');
  if (/<!ENTITY/i.test(xml)) refuse('the metadata contains an entity declaration (<!ENTITY), which is not allowed');

  const root = parseXml(xml).documentElement;
  if (!root || root.namespaceURI !== MD || (root.localName !== 'EntityDescriptor' && root.localName !== 'EntitiesDescriptor')) {
    refuse(`the root element must be EntityDescriptor or EntitiesDescriptor in namespace ${MD}, not <${clip(root?.tagName ?? '')}>`);
  }
  const entities = root.localName === 'EntityDescriptor' ? [root] : Array.from(root.getElementsByTagNameNS(MD, 'EntityDescriptor'));
  const providers = entities.flatMap((entity) => {
    const sps = children(entity, MD, 'SPSSODescriptor');
    // An entity may carry one SPSSODescriptor per protocol family; we speak SAML 2.0.
    const sp = sps.find((d) => attr(d, 'protocolSupportEnumeration').split(/\s+/).includes(SAML2_PROTOCOL)) ?? sps[0];
    return sp ? [{ entity, sp }] : [];
  });
  const [provider] = providers;
  if (!provider) refuse('the metadata describes no service provider (SPSSODescriptor)');
  if (providers.length > 1) refuse(`the metadata describes ${providers.length} service providers; upload the metadata of exactly one`);
  const { entity, sp } = provider;

  const entityId = attr(entity, 'entityID');
  if (!entityId) refuse('the EntityDescriptor has no entityID');
  if (entityId.length > MAX_ENTITY_ID) refuse(`the entityID is longer than ${MAX_ENTITY_ID} characters`);

  const acsUrls = children(sp, MD, 'AssertionConsumerService').map((acs) => {
    const index = attr(acs, 'index');
    if (index && !(/^\d{1,5}$/.test(index) && Number(index) <= 65535)) refuse(`the AssertionConsumerService index "${clip(index)}" is not a number from 0 to 65535`);
    return { ...endpoint(acs), index: index ? Number(index) : null, isDefault: bool(acs, 'isDefault') };
  });
  // Stable sort: ties keep document order.
  acsUrls.sort((a, b) => Number(b.isDefault) - Number(a.isDefault) || (a.index ?? Infinity) - (b.index ?? Infinity));
  if (!acsUrls.some((acs) => acs.binding === HTTP_POST_BINDING)) {
    refuse(`the SPSSODescriptor has no AssertionConsumerService with the HTTP-POST binding (${HTTP_POST_BINDING}), which is needed to send assertions`);
  }

  const signingCertificates = new Set<string>();
  const encryptionCertificates = new Set<string>();
  for (const key of children(sp, MD, 'KeyDescriptor')) {
    const use = attr(key, 'use');
    for (const node of Array.from(key.getElementsByTagNameNS(DS, 'X509Certificate'))) {
      const base64 = (node.textContent ?? '').replace(/\s+/g, '');
      if (!isCertificate(base64)) refuse(`a KeyDescriptor${use ? ` use="${clip(use)}"` : ''} holds an X509Certificate that is not a base64 DER X.509 certificate`);
      if (use === '' || use === 'signing') signingCertificates.add(base64);
      if (use === '' || use === 'encryption') encryptionCertificates.add(base64);
    }
  }

  return {
    entityId,
    acsUrls,
    nameIdFormats: [...new Set(children(sp, MD, 'NameIDFormat').map((n) => (n.textContent ?? '').trim()).filter(Boolean))],
    signingCertificates: [...signingCertificates],
    encryptionCertificates: [...encryptionCertificates],
    authnRequestsSigned: bool(sp, 'AuthnRequestsSigned'),
    wantAssertionsSigned: bool(sp, 'WantAssertionsSigned'),
    logoutUrls: children(sp, MD, 'SingleLogoutService').map(endpoint),
  };
}

function parseXml(xml: string) {
  let problem: string | undefined;
  const parser = new DOMParser({
    onError: (level, message, context: { locator?: { lineNumber?: number } }) => {
      // A stray U+FFFD is a decoding issue in some text, not a structural one.
      if (level === 'warning' && message.startsWith('Unicode replacement character')) return;
      // Warnings included: xmldom reports some malformed input (an attribute without a value) only as one.
      const line = context.locator?.lineNumber;
      problem ??= `${clip(message)}${line ? ` (line ${line})` : ''}`;
      throw new Error(message);
    },
  });
  try {
    return parser.parseFromString(xml, 'text/xml');
  } catch {
    refuse(`the metadata is not well-formed XML: ${problem ?? 'unreadable'}`);
  }
}

function children(parent: Element, namespace: string, localName: string): Element[] {
  const found: Element[] = [];
  for (let node = parent.firstChild; node; node = node.nextSibling) {
    if (isElement(node) && node.namespaceURI === namespace && node.localName === localName) found.push(node);
  }
  return found;
}

const isElement = (node: { nodeType: number }): node is Element => node.nodeType === 1;

const attr = (element: Element, name: string) => (element.getAttribute(name) ?? '').trim();

/** xs:boolean; an absent attribute is false. */
function bool(element: Element, name: string): boolean {
  const value = attr(element, name);
  if (value === 'true' || value === '1') return true;
  if (value === '' || value === 'false' || value === '0') return false;
  refuse(`${element.localName} ${name} must be true or false, not "${clip(value)}"`);
}

function endpoint(element: Element): { url: string; binding: string } {
  const url = attr(element, 'Location');
  if (!url) refuse(`a ${element.localName} has no Location`);
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    // Reported below with the offending value.
  }
  if (parsed?.protocol !== 'https:' && parsed?.protocol !== 'http:') refuse(`the ${element.localName} Location "${clip(url)}" is not an absolute http(s) URL`);
  return { url, binding: attr(element, 'Binding') };
}

function isCertificate(base64: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) return false;
  try {
    new X509Certificate(Buffer.from(base64, 'base64'));
    return true;
  } catch {
    return false;
  }
}
