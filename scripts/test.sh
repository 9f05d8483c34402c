#!/usr/bin/env bash
# The one test command (`npm test`): installs what the tests need, starts PostgreSQL and a real
# Samba AD domain controller on loopback, builds the console, runs type-check, lint and every
# test, stops the DC.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v samba >/dev/null 2>&1 || missing+=(samba samba-ad-dc samba-ad-provision winbind krb5-user python3-samba)
command -v ldapsearch >/dev/null 2>&1 || missing+=(ldap-utils)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# Debian's browser for the console and sign-in page tests (Playwright cannot download its own here).
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# A SAML service provider we did not write, for the federation interoperability tests.
/usr/bin/python3 -c 'import saml2' >/dev/null 2>&1 || missing+=(python3-pysaml2)
command -v xmlsec1 >/dev/null 2>&1 || missing+=(xmlsec1)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  echo "installing ${missing[*]}…"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

bash scripts/ensure-postgres.sh

echo "== console build (tests that start Portico serve dist/console/)"
npm run --silent build:console

echo "== type-check"
npx tsc --noEmit
npx tsc --noEmit -p src/console/web
echo "== lint"
npx eslint .
echo "== dependency rules (.dependency-cruiser.cjs, described in src/README.md)"
npx depcruise src --config .dependency-cruiser.cjs --output-type err

echo "== Samba AD domain controllers: CORP (127.0.0.1) and the trusted forest PARTNER (127.0.0.2)"
trap 'bash test/samba/dc.sh stop; PORTICO_SAMBA_INSTANCE=partner bash test/samba/dc.sh stop' EXIT
bash test/samba/dc.sh start
PORTICO_SAMBA_INSTANCE=partner bash test/samba/dc.sh start

echo "== tests"
mapfile -t files < <(find src test -name '*.test.ts' -not -path '*/node_modules/*' | sort)
node --import tsx --test --test-concurrency=1 "$@" "${files[@]}"
