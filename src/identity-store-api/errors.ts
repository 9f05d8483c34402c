/**
 * Errors of the IdentityStore API in AWS's JSON 1.1 form: the body `{"__type", "Message", …}` and
 * the `x-amzn-ErrorType` header, from which the AWS SDKs name the exception they raise. The
 * IdentityStore answers every client error with HTTP 400 (its API reference says so for each).
 */
import type { SigV4Error } from './sigv4.ts';

export type IdentityStoreErrorType =
  | 'ValidationException'
  | 'SerializationException'
  | 'ResourceNotFoundException'
  | 'AccessDeniedException'
  | 'UnknownOperationException'
  | 'InternalServerException'
  | SigV4Error['code'];

export type ResourceType = 'USER' | 'GROUP' | 'IDENTITY_STORE' | 'GROUP_MEMBERSHIP';

export class IdentityStoreError extends Error {
  readonly type: IdentityStoreErrorType;
  readonly status: number;
  /** Members of the error shape besides Message (ResourceType, ResourceId, RetryAfterSeconds). */
  readonly fields: Record<string, string | number>;

  constructor(type: IdentityStoreErrorType, message: string, options: { status?: number; fields?: Record<string, string | number>; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'IdentityStoreError';
    this.type = type;
    this.status = options.status ?? (type === 'InternalServerException' ? 500 : 400);
    this.fields = options.fields ?? {};
  }

  /** The JSON body AWS sends; `Message` with a capital M, as the IdentityStore's error shapes name it. */
  body(requestId: string): Record<string, string | number> {
    return { __type: this.type, Message: this.message, ...this.fields, RequestId: requestId };
  }
}

/**
 * One or more constraint violations, in the wording AWS services use:
 * `1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: …`.
 */
export function validationError(problems: string[]): IdentityStoreError {
  const count = problems.length;
  return new IdentityStoreError('ValidationException', `${count} validation error${count === 1 ? '' : 's'} detected: ${problems.join('; ')}`);
}

export function resourceNotFound(resourceType: ResourceType, resourceId: string | null, message: string): IdentityStoreError {
  return new IdentityStoreError('ResourceNotFoundException', message, {
    fields: { ResourceType: resourceType, ...(resourceId === null ? {} : { ResourceId: resourceId }) },
  });
}
