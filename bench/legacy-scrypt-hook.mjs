/**
 * Module hook for the morning-rush bench (bench/rush.bench.ts): makes `portico start` hash and
 * verify managed-directory passwords the way it did before issue 21 (scrypt N=2^15, r=8, p=1,
 * ungated), which no setting can ask for (passwordHashing is configurable upwards only). It
 * points the managed directory's import of the password module at bench/legacy-scrypt-password.ts.
 * Registered by bench/rush-portico.mjs after tsx, so that it sees the specifier first.
 */
export async function resolve(specifier, context, nextResolve) {
  if (specifier === '#src/directory/managed/engine/password.ts' && context.parentURL?.endsWith('/src/directory/managed/index.ts')) {
    return nextResolve(new URL('./legacy-scrypt-password.ts', import.meta.url).href, context);
  }
  return nextResolve(specifier, context);
}
