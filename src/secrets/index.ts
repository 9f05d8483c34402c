/** Secrets at rest: the instance key, sealing and opening stored secrets, secret-name detection. */
export { createSecretBox, SECRET_KEY_BYTES, type SecretBox } from './secret-box.ts';
export {
  decodeSecretKey,
  isSecretKeyText,
  loadOrCreateSecretKey,
  SECRET_KEY_FILE,
  type LoadedSecretKey,
  type SecretKeySettings,
} from './secret-key.ts';
export { isSecretName } from './secret-names.ts';
