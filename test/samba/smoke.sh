#!/usr/bin/env bash
# Smoke test of a running DC (after `dc.sh start`) with the OpenLDAP and OpenSSL command-line
# tools only, so a broken harness is told apart from a broken Portico. Exit 1 on any mismatch.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DIR=${PORTICO_SAMBA_DIR:-/tmp/portico-samba}
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

alice_pw=$(fx users.0.password)
check "bind alice by UPN" ok "$(subcode "$(fx users.0.upn)" "$alice_pw")"
check "bind CORP\\alice" ok "$(subcode "$(rt netbiosName)\\$(fx users.0.sAMAccountName)" "$alice_pw")"
check "bind alice by DN" ok "$(subcode "$(fx users.0.dn)" "$alice_pw")"
check "bind alice, wrong password" 52e "$(subcode "$(fx users.0.upn)" "not-her-password")"
check "bind unknown user" 52e "$(subcode "nobody@$(rt domain)" "whatever-1A!")"

while IFS=$'\t' read -r state upn pw; do
	if [[ $state == ok ]]; then want=ok; else want=$(fx "bindSubcodes.$state"); fi
	check "bind $upn ($state)" "$want" "$(subcode "$upn" "$pw")"
done < <(/usr/bin/python3 "$HERE/fixture.py" accounts)

check "Big-Group members" "$(fx bigGroup.memberCount)" "$(count "$(fx bigGroup.dn)" member)"
greg_dn=$(/usr/bin/python3 -c 'import json,sys; print(next(u["dn"] for u in json.load(open(sys.argv[1]))["users"] if u["key"]=="greg"))' "$HERE/fixture.json")
# tokenGroups = the fixture's transitive security groups + Domain Users + BUILTIN\Users
check "greg tokenGroups" "$(($(fx manyGroupsUser.transitiveGroups) + 2))" "$(count "$greg_dn" tokenGroups)"

verify=$(openssl s_client -connect 127.0.0.1:636 -CAfile "$LDAPTLS_CACERT" -verify_return_error -verify_ip 127.0.0.1 </dev/null 2>&1 |
	sed -n 's/^Verify return code: //p')
check "TLS chain + IP SAN verification with caFile" "0 (ok)" "$verify"
served=$(openssl s_client -connect 127.0.0.1:636 </dev/null 2>/dev/null | openssl x509 -outform DER | sha256sum | cut -d' ' -f1)
check "served leaf SHA-256 = runtime certSha256" "$(rt certSha256)" "$served"
check "plain LDAP simple bind refused (strong auth)" 8 \
	"$(ldapsearch -x -H "$(rt ldapUrl)" "${SVC[@]}" -b "" -s base 1.1 >/dev/null 2>&1; echo $?)"

((fail == 0)) && echo "smoke: all checks passed" || echo "smoke: FAILED" >&2
exit "$fail"
