/**
 * Which keys hold secrets, judged by name. Logs, audit details and redacted configuration drop
 * or mask such keys wherever they appear, as a net under the explicit redaction of known fields.
 */

// Compared after lower-casing and removing `_`, `-` and `.`, so `client_secret`, `apiKey` and
// `X-Auth-Token` all match. `pwdLastSet` (an AD timestamp) deliberately does not.
const SECRET_NAME = /password|passwd|passphrase|secret|token|credential|apikey|privatekey|authorization|cookie|sealed/;

export function isSecretName(key: string): boolean {
  return SECRET_NAME.test(key.toLowerCase().replace(/[-_.]/g, ''));
}
