/**
 * The part of oidc-provider's API that Portico uses (the package ships no type declarations).
 * Kept narrow on purpose: every use goes through src/federation/oidc/provider.ts.
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface OidcContext {
    oidc: {
      route?: string;
      client?: OidcClient;
      params?: Record<string, unknown>;
      session?: { accountId?: string; authTime?: number; uid?: string; acr?: string };
      entities: Record<string, unknown>;
      provider: Provider;
    };
    req: IncomingMessage;
    method: string;
    path: string;
    status: number;
    body: unknown;
    type: string;
    get(header: string): string;
    set(header: string, value: string | string[]): void;
    append(header: string, value: string | string[]): void;
    response: { get(header: string): string | string[] | number | undefined };
  }

  export interface OidcClient {
    clientId: string;
    clientName?: string;
    clientAuthMethod: string;
    redirectUris: string[];
    grantTypeAllowed(grant: string): boolean;
    backchannelLogoutUri?: string;
    /** Signs a logout token for `sub` (the account id; made pairwise by the library) and POSTs it to backchannelLogoutUri. */
    backchannelLogout(sub: string, sid: string | undefined): Promise<void>;
  }

  export interface SessionInstance {
    uid: string;
    accountId?: string;
    acr?: string;
    authorizations?: Record<string, { sid?: string; grantId?: string; persistsLogout?: boolean }>;
    destroy(): Promise<void>;
  }

  export interface InteractionDetails {
    uid: string;
    iat?: number;
    exp?: number;
    prompt: { name: string; reasons: string[]; details: Record<string, unknown> };
    params: Record<string, unknown>;
    session?: { accountId?: string };
    grantId?: string;
    result?: Record<string, unknown>;
  }

  export interface GrantInstance {
    addOIDCScope(scope: string): void;
    addOIDCClaims(claims: string[]): void;
    save(): Promise<string>;
  }

  export class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    proxy: boolean;
    issuer: string;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    use(middleware: (ctx: OidcContext, next: () => Promise<void>) => Promise<void>): void;
    on(event: string, listener: (...args: never[]) => void): void;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
    interactionFinished(req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>, options?: { mergeWithLastSubmission?: boolean }): Promise<void>;
    interactionResult(req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>, options?: { mergeWithLastSubmission?: boolean }): Promise<string>;
    Session: { findByUid(uid: string): Promise<SessionInstance | undefined> };
    Client: { find(id: string): Promise<OidcClient | undefined> };
    Grant: {
      new (properties: { accountId: string; clientId: string }): GrantInstance;
      find(id: string): Promise<GrantInstance | undefined>;
    };
  }

  export class Check {
    constructor(reason: string, description: string, error: string, check: (ctx: OidcContext) => boolean | Promise<boolean>);
  }
  export interface PromptPolicy {
    get(name: string): { checks: { add(check: Check, index?: number): void } };
  }
  export const interactionPolicy: { base(): PromptPolicy; Check: typeof Check };
  export const errors: Record<string, new (description?: string) => Error>;
  export default Provider;
}
