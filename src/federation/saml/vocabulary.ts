/**
 * SAML vocabulary the rest of Portico speaks (issue 14): the NameID formats an application may
 * ask for, and what `${user:…}` may name in an application's attribute mappings. It lives with
 * the protocol core that gives it meaning; the access model validates applications against it.
 */
import { USER_TEMPLATE_PATHS } from '#src/identity-store/paths.ts';

export const NAME_ID_FORMATS = {
  persistent: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  emailAddress: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
  unspecified: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
  transient: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
} as const;
export type NameIdFormat = keyof typeof NAME_ID_FORMATS;

/** What `${user:…}` may name in an application's attribute mappings: the path registry's `${user:…}` list. */
export const USER_ATTRIBUTE_PATHS = USER_TEMPLATE_PATHS;

/** One attribute mapping of an application, as the assertion builder reads it. */
export interface AttributeMapping {
  name: string;
  value: string;
  format: 'unspecified' | 'uri' | 'basic';
}
