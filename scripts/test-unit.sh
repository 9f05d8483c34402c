#!/usr/bin/env bash
# The fast tier (`npm run test:unit`): every test of our own logic that needs no Samba DC,
# PostgreSQL, browser or external SAML client, so it runs anywhere without root or servers.
# Selected by name: a *.test.ts file is in the tier unless it is named *.integration.test.ts
# (real servers: Samba, PostgreSQL), *.samba.* (the Samba DC), *.browser.test.ts (Chromium) or
# *.interop.test.ts (another implementation, e.g. pysaml2). In-process servers of our own
# (Fastify inject, the managed LDAP listener on loopback) are part of the unit under test.
# PORTICO_TEST_TIER=unit makes the helpers that reach a real server refuse (test/support/tier.ts);
# test/boundaries/unit-tier.test.ts checks the selection. `--list` prints the files only.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t files < <(find src test -name '*.test.ts' -not -path '*/node_modules/*' \
  -not -name '*.integration.test.ts' -not -name '*.samba.*' -not -name '*.browser.test.ts' -not -name '*.interop.test.ts' | sort)
if [ "${1:-}" = "--list" ]; then
  printf '%s\n' "${files[@]}"
  exit 0
fi
export PORTICO_TEST_TIER=unit
node --import tsx --test "$@" "${files[@]}"
