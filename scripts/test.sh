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
# Second-wave peers: a load balancer, a RADIUS server, an OIDC relying party (Apache), the AWS CLI
# v2, independent TOTP and OAuth clients.
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
command -v freeradius >/dev/null 2>&1 || missing+=(freeradius freeradius-utils)
[ -e /usr/lib/apache2/modules/mod_auth_openidc.so ] || missing+=(apache2 libapache2-mod-auth-openidc)
[ -x /usr/bin/aws ] || missing+=(awscli)
command -v oathtool >/dev/null 2>&1 || missing+=(oathtool)
/usr/bin/python3 -c 'import pyotp' >/dev/null 2>&1 || missing+=(python3-pyotp)
/usr/bin/python3 -c 'import authlib' >/dev/null 2>&1 || missing+=(python3-authlib)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  echo "installing ${missing[*]}…"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The AWS API emulator (moto) comes from PyPI, which this machine cannot reach: check, don't install.
if ! python3 -c 'import moto.server' >/dev/null 2>&1 && ! /usr/bin/python3 -c 'import moto.server' >/dev/null 2>&1; then
  echo "the AWS API emulator moto (python3 -m pip install 'moto[server]') is missing" >&2
  exit 1
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
