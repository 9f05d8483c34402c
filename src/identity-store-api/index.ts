/** The IdentityStore API (AWS JSON 1.1, SigV4) for integrated applications. */
export { registerIdentityStoreApi, IDENTITY_STORE_SIGNING_NAME, type IdentityStoreApiDeps, type IdentityStoreApiOptions } from './routes.ts';
export { deriveIdentityStoreId, identityStoreIdPattern } from './identity-store-id.ts';
export { createIdentityStoreOperations, writeOperations, type IdentityStoreOperationDeps } from './operations.ts';
export { membershipId } from './shapes.ts';
