#!/usr/bin/env bash
# Smoke test of a running DC (after `dc.sh start`) with the OpenLDAP and OpenSSL command-line
# tools only, so a broken harness is told apart from a broken Portico. Exit 1 on any mismatch.
# PORTICO_SAMBA_INSTANCE=partner checks the partner forest instead (as dc.sh does).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
case "${PORTICO_SAMBA_INSTANCE:-corp}" in
corp) DIR=${PORTICO_SAMBA_DIR:-/tmp/portico-samba} FIXTURE="$HERE/fixture.json" ;;
partner) DIR=${PORTICO_PARTNER_DIR:-/tmp/portico-samba-partner} FIXTURE="$HERE/partner-fixture.json" ;;
*) echo "smoke: PORTICO_SAMBA_INSTANCE must be corp or partner" >&2; exit 2 ;;
esac
export PORTICO_SAMBA_FIXTURE="$FIXTURE" # for fixture.py
RT="$DIR/runtime.json"
[[ -r $RT ]] || { echo "smoke: no $RT - run dc.sh start first" >&2; exit 1; }

rt() { /usr/bin/python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v=v[k]
print(v)' "$RT" "$1"; }
fx() { /usr/bin/python3 "$HERE/fixture.py" get "$1"; }

export LDAPTLS_CACERT LDAPTLS_REQCERT=demand
LDAPTLS_CACERT=$(rt caFile)
URL=$(rt ldapsUrl)
BASE=$(rt baseDn)
SVC=(-D "$(rt serviceAccount.username)" -w "$(rt serviceAccount.password)")
fail=0

check() { # label expected actual
	if [[ $2 == "$3" ]]; then echo "ok    $1: $3"; else echo "FAIL  $1: got '$3', expected '$2'"; fail=1; fi
}

subcode() { # user password -> ok | 52e | 775 ...
	local out
	if out=$(ldapsearch -LLL -x -H "$URL" -D "$1" -w "$2" -b "" -s base 1.1 2>&1 >/dev/null); then
		echo ok
	else
		sed -n 's/.*data \([0-9a-f]*\),.*/\1/p' <<<"$out" | head -n 1 | grep . || echo "${out//$'\n'/ }"
	fi
}

count() { # base attribute -> number of values (base-scope read as the service account)
	ldapsearch -LLL -x -o ldif-wrap=no -H "$URL" "${SVC[@]}" -b "$1" -s base "$2" 2>/dev/null | grep -c "^$2:"
}

first=$(fx users.0.key) # alice (CORP), pia (PARTNER): ok, every attribute
first_pw=$(fx users.0.password)
first_nt="$(rt netbiosName)\\$(fx users.0.sAMAccountName)"
check "bind $first by UPN" ok "$(subcode "$(fx users.0.upn)" "$first_pw")"
check "bind $first_nt" ok "$(subcode "$first_nt" "$first_pw")"
check "bind $first by DN" ok "$(subcode "$(fx users.0.dn)" "$first_pw")"
check "bind $first, wrong password" 52e "$(subcode "$(fx users.0.upn)" "not-her-password")"
check "bind unknown user" 52e "$(subcode "nobody@$(rt domain)" "whatever-1A!")"

while IFS=$'\t' read -r state upn pw; do
	if [[ $state == ok ]]; then want=ok; else want=$(fx "bindSubcodes.$state"); fi
	check "bind $upn ($state)" "$want" "$(subcode "$upn" "$pw")"
done < <(/usr/bin/python3 "$HERE/fixture.py" accounts)

if /usr/bin/python3 -c 'import json,sys; sys.exit("bigGroup" not in json.load(open(sys.argv[1])))' "$FIXTURE"; then
	check "Big-Group members" "$(fx bigGroup.memberCount)" "$(count "$(fx bigGroup.dn)" member)"
	greg_dn=$(/usr/bin/python3 -c 'import json,sys; print(next(u["dn"] for u in json.load(open(sys.argv[1]))["users"] if u["key"]=="greg"))' "$FIXTURE")
	# tokenGroups = the fixture's transitive security groups + Domain Users + BUILTIN\Users
	check "greg tokenGroups" "$(($(fx manyGroupsUser.transitiveGroups) + 2))" "$(count "$greg_dn" tokenGroups)"
else
	check "$first tokenGroups" "$(/usr/bin/python3 "$HERE/fixture.py" tokengroups "$first")" "$(count "$(fx users.0.dn)" tokenGroups)"
fi

addr=$(sed -n 's|^ldaps://\([^:/]*\).*|\1|p' <<<"$URL")
verify=$(openssl s_client -connect "$addr:636" -CAfile "$LDAPTLS_CACERT" -verify_return_error -verify_ip "$addr" </dev/null 2>&1 |
	sed -n 's/^Verify return code: //p')
check "TLS chain + IP SAN verification with caFile" "0 (ok)" "$verify"
served=$(openssl s_client -connect "$addr:636" </dev/null 2>/dev/null | openssl x509 -outform DER | sha256sum | cut -d' ' -f1)
check "served leaf SHA-256 = runtime certSha256" "$(rt certSha256)" "$served"
check "plain LDAP simple bind refused (strong auth)" 8 \
	"$(ldapsearch -x -H "$(rt ldapUrl)" "${SVC[@]}" -b "" -s base 1.1 >/dev/null 2>&1; echo $?)"

((fail == 0)) && echo "smoke: all checks passed" || echo "smoke: FAILED" >&2
exit "$fail"
