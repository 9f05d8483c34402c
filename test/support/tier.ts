/**
 * The guard of the fast test tier (`npm run test:unit`, scripts/test-unit.sh sets
 * PORTICO_TEST_TIER=unit): the helpers that reach a real server or a browser refuse to run in it,
 * so a unit-named test that needs the Samba DC, PostgreSQL or Chromium fails loudly instead of
 * slipping a slow dependency into the fast tier. The full suite (`npm test`) never sets it.
 */
export function refuseInUnitTier(what: string): void {
  if (process.env.PORTICO_TEST_TIER === 'unit') {
    throw new Error(`${what} is not available in the unit tier (npm run test:unit): name this test *.integration.test.ts, *.samba.*, *.browser.test.ts or *.interop.test.ts`);
  }
}
