/**
 * The small XML toolkit the SAML engine shares: namespaces, safe parsing of what service
 * providers send, escaping for what we write, and the refusal helper. Messages are written as
 * strings (a handful of fixed shapes) rather than through a DOM builder, so what is signed is
 * exactly what is sent; everything interpolated goes through `text()` or `attr()`.
 */
import { randomBytes } from 'node:crypto';
import { DOMParser, type Document, type Element } from '@xmldom/xmldom';
import { AppError, type ErrorCode } from '#src/shared/errors.ts';

export const NS = {
  assertion: 'urn:oasis:names:tc:SAML:2.0:assertion',
  protocol: 'urn:oasis:names:tc:SAML:2.0:protocol',
  metadata: 'urn:oasis:names:tc:SAML:2.0:metadata',
  dsig: 'http://www.w3.org/2000/09/xmldsig#',
  xenc: 'http://www.w3.org/2001/04/xmlenc#',
  xs: 'http://www.w3.org/2001/XMLSchema',
  xsi: 'http://www.w3.org/2001/XMLSchema-instance',
} as const;

export const BINDINGS = {
  redirect: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect',
  post: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
} as const;

export const STATUS_SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';

/**
 * Refuses with a stable code. Messages are written to be safe to show; those with a 4xx status
 * are shown (the request was at fault), 5xx ones are for the logs (our configuration is).
 */
export function refuse(code: ErrorCode, message: string, status = 400): never {
  throw new AppError(code, message, { status });
}

/** Input echoed in a message is cut short and kept on one line. */
export function clip(value: string): string {
  const flat = value.replace(/\s+/g, ' ');
  return flat.length > 100 ? `${flat.slice(0, 100)}…` : flat;
}

/**
 * Bounds on a SAML message from outside, checked by a linear scan before any parser or signature
 * code sees it. A real AuthnRequest or LogoutRequest, signed and with extensions, has a few dozen
 * elements, a depth under 10 and a few KiB; the bounds leave a wide margin and still keep the
 * parser's and xml-crypto's work (which grows with the element count) to a millisecond or two.
 */
export const XML_BOUNDS = {
  /** UTF-8 bytes of the decoded (inflated) message. */
  maxBytes: 64 * 1024,
  maxElements: 512,
  maxDepth: 24,
  /** Per element, namespace declarations included. */
  maxAttributes: 32,
} as const;

/**
 * Refuses a message over XML_BOUNDS, in one pass over its characters without building anything.
 * It only counts: well-formedness is the parser's job, after this check passed.
 */
export function checkXmlBounds(xml: string): void {
  if (xml.length > XML_BOUNDS.maxBytes || Buffer.byteLength(xml, 'utf8') > XML_BOUNDS.maxBytes) {
    refuse('saml.request_too_large', `the SAML message is larger than ${XML_BOUNDS.maxBytes / 1024} KiB`);
  }
  const tooComplex = (what: string): never => refuse('saml.request_too_large', `the SAML message has ${what}; a SAML request needs far fewer`);
  let elements = 0;
  let depth = 0;
  let i = 0;
  const n = xml.length;
  const skipPast = (end: string, from: number): number => {
    const at = xml.indexOf(end, from);
    return at === -1 ? n : at + end.length;
  };
  while (i < n) {
    const lt = xml.indexOf('<', i);
    if (lt === -1) break;
    const next = xml.charCodeAt(lt + 1);
    if (next === 0x21 /* ! */) {
      i = xml.startsWith('<!--', lt) ? skipPast('-->', lt + 4) : xml.startsWith('<![CDATA[', lt) ? skipPast(']]>', lt + 9) : skipPast('>', lt + 2);
      continue;
    }
    if (next === 0x3f /* ? */) {
      i = skipPast('?>', lt + 2);
      continue;
    }
    if (next === 0x2f /* / */) {
      depth--;
      i = skipPast('>', lt + 2);
      continue;
    }
    // A start tag: count it, then its attributes (each one `=` outside quotes) up to its end.
    if (++elements > XML_BOUNDS.maxElements) tooComplex(`more than ${XML_BOUNDS.maxElements} elements`);
    if (++depth > XML_BOUNDS.maxDepth) tooComplex(`elements nested more than ${XML_BOUNDS.maxDepth} deep`);
    let attributes = 0;
    let j = lt + 1;
    for (; j < n; j++) {
      const c = xml.charCodeAt(j);
      if (c === 0x22 /* " */ || c === 0x27 /* ' */) {
        const close = xml.indexOf(c === 0x22 ? '"' : "'", j + 1);
        j = close === -1 ? n : close;
      } else if (c === 0x3d /* = */) {
        if (++attributes > XML_BOUNDS.maxAttributes) tooComplex(`an element with more than ${XML_BOUNDS.maxAttributes} attributes`);
      } else if (c === 0x3e /* > */) {
        if (xml.charCodeAt(j - 1) === 0x2f /* / */) depth--;
        break;
      }
    }
    i = j + 1;
  }
}

/**
 * Parses a SAML message from outside, within XML_BOUNDS. A DOCTYPE or entity declaration is
 * refused before the parser sees it — SAML never needs one, and refusing outright shuts out
 * entity expansion and external entities whatever the parser would do with them.
 */
export function parseSamlXml(xml: string): Document {
  if (/<!DOCTYPE/i.test(xml) || /<!ENTITY/i.test(xml)) {
    refuse('saml.request_dtd_forbidden', 'the SAML message contains a DOCTYPE or entity declaration, which is not allowed');
  }
  checkXmlBounds(xml);
  let problem: string | undefined;
  const parser = new DOMParser({
    onError: (_level, message) => {
      // Warnings too: xmldom reports some malformed input only as a warning.
      problem ??= clip(message);
      throw new Error(message);
    },
  });
  let doc: Document;
  try {
    doc = parser.parseFromString(xml, 'text/xml');
  } catch {
    refuse('saml.request_malformed', `the SAML message is not well-formed XML: ${problem ?? 'unreadable'}`);
  }
  if (!doc.documentElement) refuse('saml.request_malformed', 'the SAML message has no root element');
  return doc;
}

export function childElements(parent: Element, namespace: string, localName: string): Element[] {
  const found: Element[] = [];
  for (let node = parent.firstChild; node; node = node.nextSibling) {
    if (node.nodeType === 1) {
      const element = node as Element;
      if (element.namespaceURI === namespace && element.localName === localName) found.push(element);
    }
  }
  return found;
}

/** The single child of that name; two of them is a malformed message (which one would count?). */
export function childElement(parent: Element, namespace: string, localName: string): Element | undefined {
  const found = childElements(parent, namespace, localName);
  if (found.length > 1) refuse('saml.request_malformed', `the SAML message has more than one ${localName} in ${parent.localName}`);
  return found[0];
}

/**
 * All of an element's text, trimmed. textContent joins every text node, so a comment planted
 * inside a value (`admin@evil<!---->.example`) cannot truncate what is read.
 */
export const textOf = (element: Element | undefined): string => (element?.textContent ?? '').trim();

/** An attribute's value, or undefined when absent (an empty attribute is kept as ''). */
export const attrOf = (element: Element, name: string): string | undefined => (element.hasAttribute(name) ? (element.getAttribute(name) ?? '') : undefined);

// XML 1.0 forbids most control characters even escaped; values from a directory are not trusted to be clean.
// eslint-disable-next-line no-control-regex
export const NOT_XML_CHAR = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g;

/** Escapes character data. */
export const text = (value: string): string => value.replace(NOT_XML_CHAR, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Escapes an attribute value (double-quoted); whitespace is escaped so attribute normalisation keeps it. */
export const attr = (value: string): string =>
  text(value).replace(/"/g, '&quot;').replace(/\t/g, '&#9;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;');

/** A fresh message or assertion ID: an xs:ID must start with a letter or underscore. */
export const newId = (): string => `_${randomBytes(20).toString('hex')}`;

/** xs:dateTime in UTC, as SAML requires (second precision is what service providers expect). */
export const instant = (date: Date): string => `${date.toISOString().slice(0, 19)}Z`;

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$/;

/** Reads a SAML time value: UTC with a Z (SAML core 1.3.3), nothing else. */
export function parseInstant(value: string | undefined, what: string): Date {
  const date = value !== undefined && DATE_TIME.test(value) ? new Date(value) : undefined;
  if (date === undefined || Number.isNaN(date.getTime())) {
    refuse('saml.request_malformed', `${what} "${clip(value ?? '')}" is not a UTC date-time such as 2024-01-31T12:00:00Z`);
  }
  return date;
}
