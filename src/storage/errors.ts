/**
 * Driver errors translated into the product's error codes. Only failures a caller can act on
 * are translated; anything else (a bug in a query) propagates unchanged.
 */
import { AppError } from '#src/shared/errors.ts';

// SQLSTATE classes 08 (connection exception) and 57P (operator intervention: server shut down),
// plus the socket errors pg raises before it has a SQLSTATE.
const UNAVAILABLE = /^(08|57P0|ECONNREFUSED$|ECONNRESET$|ETIMEDOUT$|ENOTFOUND$|EHOSTUNREACH$|SQLITE_BUSY|SQLITE_CANTOPEN|SQLITE_FULL|SQLITE_IOERR|SQLITE_READONLY)/;

export function driverErrorCode(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

/** The database cannot be reached or used right now (as opposed to a bad query). */
export function isUnavailable(error: unknown): boolean {
  const code = driverErrorCode(error);
  return code !== undefined && UNAVAILABLE.test(code);
}

export function isUniqueViolation(error: unknown): boolean {
  const code = driverErrorCode(error);
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** Wraps a repository operation so callers see stable codes for conflicts and outages. */
export async function translateStorageErrors<T>(operation: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof AppError) throw error;
    const code = driverErrorCode(error);
    if (isUniqueViolation(error)) {
      throw new AppError('storage.conflict', `${operation}: the record already exists`, { status: 409, cause: error });
    }
    if (isUnavailable(error)) {
      // The code only: driver messages can quote query parameters.
      throw new AppError('storage.unavailable', `${operation}: the database is unavailable (${code})`, { status: 503, cause: error });
    }
    throw error;
  }
}
