#!/usr/bin/env bash
# A private OpenLDAP slapd for benchmarks: the CORP fixture's people (and optionally N synthetic
# users) as inetOrgPerson entries, loaded with slapadd before slapd starts.
#
#   bash test/slapd/slapd.sh start [--users N]   generate + slapadd + run slapd, write runtime.json
#   bash test/slapd/slapd.sh stop                stop the slapd this script started (idempotent)
#   bash test/slapd/slapd.sh status              exit 0 if it runs, 3 if not
#
# Listens on ldap://127.0.0.1:3890 and ldaps://127.0.0.1:6360 only. Never touches /etc/ldap or
# the system's slapd service (it only keeps that service from starting while installing slapd).
# Environment: PORTICO_SLAPD_DIR (default /tmp/portico-slapd; wiped by start),
#              PORTICO_SLAPD_USERS (synthetic users when --users is not given, default 0),
#              PORTICO_SLAPD_LOGLEVEL (slapd -d level into slapd.log, e.g. stats; default 0:
#                nothing but fatal start-up errors, as benchmarks want).
# See README.md in this folder.
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DIR=${PORTICO_SLAPD_DIR:-/tmp/portico-slapd}
USERS=${PORTICO_SLAPD_USERS:-0}
LOGLEVEL=${PORTICO_SLAPD_LOGLEVEL:-0}
PY=/usr/bin/python3
LOADER="$HERE/loader.py"
SLAPD=/usr/sbin/slapd
BASE=dc=corp,dc=example,dc=test
ADMIN_DN="cn=admin,$BASE"
ADMIN_PW="Slapd-Admin-Secret-1!"
LDAP_URL=ldap://127.0.0.1:3890
LDAPS_URL=ldaps://127.0.0.1:6360
PIDFILE="$DIR/slapd.pid"
CONF="$DIR/slapd.conf"
LOG="$DIR/slapd.log"
CA="$DIR/tls/ca.pem"
READY_TIMEOUT=30        # s, slapd answering after launch
LOAD_TIMEOUT=1800       # s, slapadd
APT_TIMEOUT=900         # s, each apt-get call
PACKAGES=(slapd ldap-utils openssl)

STARTED_PID=""
PHASE_LOG=""

log() { echo "slapd: $*" >&2; }

die() {
	trap - ERR
	log "ERROR: $*"
	if [[ -n $PHASE_LOG && -s $PHASE_LOG ]]; then
		log "--- last lines of $PHASE_LOG ---"
		tail -n 30 "$PHASE_LOG" >&2
	fi
	if [[ -n $STARTED_PID ]]; then
		stop_pid "$STARTED_PID"
		rm -f "$PIDFILE"
	fi
	exit 1
}
trap 'die "command failed (exit $?) at line $LINENO: $BASH_COMMAND"' ERR

now_ms() { echo $(($(date +%s%N) / 1000000)); }

check_dir() {
	[[ $DIR == /* ]] || die "PORTICO_SLAPD_DIR must be an absolute path (got '$DIR')"
	case "$DIR" in
	/ | /tmp | /root | /home | /var | /usr | /etc | /etc/ldap | /var/lib/ldap) die "refusing to use '$DIR' as PORTICO_SLAPD_DIR" ;;
	esac
}

# pid of a slapd binary listening on 127.0.0.1:389 / *:389 etc. (the system service), if any
system_slapd_on_389() {
	ss -ltnpH 'sport = :389' 2>/dev/null | grep -o '"slapd",pid=[0-9]*' | head -n 1 | sed 's/.*pid=//' || true
}

# Installing slapd must not leave Debian's own slapd running on port 389 (the CORP Samba DC needs
# 127.0.0.1:389): answer debconf's "omit server configuration" (no system database is created) and
# forbid service starts during the install with a policy-rc.d, unless one already exists.
install_packages() {
	local missing=("$@") policy=/usr/sbin/policy-rc.d ours=0 rc=0
	[[ $(id -u) -eq 0 ]] || die "missing packages: ${missing[*]} (run as root to install them)"
	export DEBIAN_FRONTEND=noninteractive
	if [[ " ${missing[*]} " == *" slapd "* ]]; then
		echo "slapd slapd/no_configuration boolean true" | debconf-set-selections || die "debconf-set-selections failed"
	fi
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\n# temporary, from Portico test/slapd/slapd.sh: no service starts during the install\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		ours=1
	fi
	log "installing ${missing[*]}"
	if ! timeout "$APT_TIMEOUT" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
		timeout "$APT_TIMEOUT" apt-get update -qq || rc=$?
		((rc == 0)) && { timeout "$APT_TIMEOUT" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?; }
	fi
	if ((ours)); then rm -f "$policy"; fi
	((rc == 0)) || die "apt-get install ${missing[*]} failed"
	# belt and braces: if the system service came up anyway, stop it the system's way
	if [[ -n $(system_slapd_on_389) ]]; then
		log "the system slapd service is running on port 389: stopping it"
		if [[ $(ps -p 1 -o comm= 2>/dev/null) == systemd ]]; then
			timeout 60 systemctl disable --now slapd >/dev/null 2>&1 || true
		else
			timeout 60 service slapd stop >/dev/null 2>&1 || true
		fi
		[[ -z $(system_slapd_on_389) ]] || die "the system slapd still listens on port 389; stop it (service slapd stop)"
	fi
}

ensure_packages() {
	local missing=() p
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	if [[ ${#missing[@]} -gt 0 ]]; then install_packages "${missing[@]}"; fi
	local c
	for c in "$SLAPD" slapadd ldapwhoami ldapsearch openssl setsid sha256sum timeout; do
		command -v "$c" >/dev/null || die "'$c' not found (install: ${PACKAGES[*]})"
	done
	[[ -x $PY ]] || die "$PY not found"
}

is_our_slapd() { # pid: alive, a slapd binary, and running our slapd.conf
	local pid=$1 args
	[[ $pid =~ ^[0-9]+$ ]] && [[ -d /proc/$pid ]] && [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == */slapd ]] || return 1
	args=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	[[ $args == *" -f $CONF "* ]]
}

running_pid() {
	local f pid
	for f in "$PIDFILE" "$DIR/run/slapd.pid"; do
		[[ -r $f ]] || continue
		pid=$(tr -dc '0-9' <"$f")
		if is_our_slapd "$pid"; then
			echo "$pid"
			return 0
		fi
	done
	return 1
}

stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 150); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.2
	done
	log "slapd (pid $pid) ignored SIGTERM for 30 s, sending SIGKILL"
	kill -KILL "$pid" 2>/dev/null || true
	sleep 0.5
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

make_tls() {
	local t="$DIR/tls"
	mkdir -p "$t"
	(
		umask 077
		openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/CN=Portico slapd Test CA" \
			-keyout "$t/ca-key.pem" -out "$t/ca.pem" \
			-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
		openssl req -new -newkey rsa:2048 -nodes -subj "/CN=ldap.corp.example.test" \
			-keyout "$t/server-key.pem" -out "$t/server.csr" 2>/dev/null
		cat >"$t/server-ext.cnf" <<-EOF
			basicConstraints = critical, CA:FALSE
			keyUsage = critical, digitalSignature, keyEncipherment
			extendedKeyUsage = serverAuth
			subjectKeyIdentifier = hash
			authorityKeyIdentifier = keyid
			subjectAltName = DNS:ldap.corp.example.test, DNS:localhost, IP:127.0.0.1
		EOF
		openssl x509 -req -in "$t/server.csr" -CA "$t/ca.pem" -CAkey "$t/ca-key.pem" \
			-set_serial "0x$(openssl rand -hex 16)" -days 825 -sha256 -extfile "$t/server-ext.cnf" \
			-out "$t/server.pem" 2>/dev/null
	)
	chmod 644 "$t/ca.pem" "$t/server.pem"
	openssl verify -CAfile "$t/ca.pem" "$t/server.pem" >/dev/null || die "generated certificate does not verify"
}

write_conf() { # users
	local rootpw maxsize
	rootpw=$("$PY" "$LOADER" ssha "$ADMIN_PW")
	# the mdb map is a sparse file: size it generously (~16 KiB per entry, at least 1 GiB)
	maxsize=$((($1 + 100) * 16384))
	((maxsize > 1073741824)) || maxsize=1073741824
	cat >"$CONF" <<-EOF
		# Portico benchmark slapd (generated by test/slapd/slapd.sh; private: not /etc/ldap)
		include         /etc/ldap/schema/core.schema
		include         /etc/ldap/schema/cosine.schema
		include         /etc/ldap/schema/inetorgperson.schema

		pidfile         $DIR/run/slapd.pid
		argsfile        $DIR/run/slapd.args
		modulepath      /usr/lib/ldap
		moduleload      back_mdb
		loglevel        0
		sizelimit       unlimited

		TLSCACertificateFile  $DIR/tls/ca.pem
		TLSCertificateFile    $DIR/tls/server.pem
		TLSCertificateKeyFile $DIR/tls/server-key.pem

		database        mdb
		maxsize         $maxsize
		suffix          "$BASE"
		rootdn          "$ADMIN_DN"
		rootpw          $rootpw
		directory       $DIR/data
		index           objectClass eq
		index           uid,mail,cn eq

		access to attrs=userPassword
		        by self write
		        by anonymous auth
		        by * none
		access to *
		        by users read
		        by anonymous auth
	EOF
}

bind_ok() { # dn password -> prints ldapwhoami's answer, status 0 on success
	LDAPTLS_CACERT="$CA" LDAPTLS_REQCERT=demand timeout 15 \
		ldapwhoami -x -o nettimeout=5 -H "$LDAPS_URL" -D "$1" -w "$2" 2>&1
}

cmd_start() {
	local t0 t_tls t_ldif t_add t_run t_ready pid i out entries
	t0=$(now_ms)
	check_dir
	[[ $USERS =~ ^[0-9]+$ ]] || die "--users / PORTICO_SLAPD_USERS must be a number (got '$USERS')"
	ensure_packages

	cmd_stop >/dev/null
	for i in 3890 6360; do
		port_busy "$i" && die "127.0.0.1:$i is already in use: $(ss -ltnpH "sport = :$i" 2>/dev/null || true)"
	done
	rm -rf "$DIR"
	mkdir -p "$DIR/data" "$DIR/run"

	make_tls
	write_conf "$USERS"
	t_tls=$(now_ms)

	PHASE_LOG="$DIR/load.log"
	"$PY" "$LOADER" ldif --users "$USERS" >"$DIR/data.ldif" 2>"$DIR/load.log" || die "generating the LDIF failed"
	entries=$(grep -c '^dn' "$DIR/data.ldif")
	t_ldif=$(now_ms)
	timeout "$LOAD_TIMEOUT" slapadd -q -f "$CONF" -l "$DIR/data.ldif" >>"$DIR/load.log" 2>&1 ||
		die "slapadd failed (or took over ${LOAD_TIMEOUT}s)"
	t_add=$(now_ms)

	# -d: stay in the foreground (no fork) so setsid gives us slapd's own pid, and log to stderr
	# (slapd.log) at that level instead of to a syslog that may not exist (loglevel 0 in slapd.conf).
	PHASE_LOG="$LOG"
	setsid "$SLAPD" -d "$LOGLEVEL" -f "$CONF" -h "$LDAP_URL/ $LDAPS_URL/" </dev/null >"$LOG" 2>&1 &
	pid=$!
	STARTED_PID=$pid
	echo "$pid" >"$PIDFILE"
	t_run=$(now_ms)

	local alice_dn alice_pw
	alice_dn="uid=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["users"][0]["sAMAccountName"])' "$HERE/../samba/fixture.json"),ou=people,$BASE"
	alice_pw=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["users"][0]["password"])' "$HERE/../samba/fixture.json")
	for ((i = 0; ; i++)); do
		if out=$(bind_ok "$alice_dn" "$alice_pw"); then break; fi
		kill -0 "$pid" 2>/dev/null || die "slapd exited during startup"
		((i < READY_TIMEOUT * 20)) || die "no LDAPS bind as $alice_dn after ${READY_TIMEOUT}s: $out"
		sleep 0.05
	done
	t_ready=$(now_ms)

	# self-check: a wrong password is refused (49), a synthetic user binds
	if bind_ok "$alice_dn" "not-her-password" >/dev/null; then die "self-check: a wrong password was accepted"; fi
	if ((USERS > 0)); then
		local w=$((${#USERS} > 6 ? ${#USERS} : 6))
		out=$(bind_ok "$(printf "uid=bench%0${w}d,ou=bench,%s" "$USERS" "$BASE")" "$(printf "Bench-Pw-%0${w}d!" "$USERS")") ||
			die "self-check: the last synthetic user cannot bind: $out"
	fi

	local sha
	sha=$(openssl x509 -in "$DIR/tls/server.pem" -outform DER | sha256sum | cut -d' ' -f1)
	"$PY" "$LOADER" runtime "$DIR" "$pid" "$sha" "$USERS" "$ADMIN_PW"
	STARTED_PID=""
	rm -f "$DIR/data.ldif" # up to ~330 bytes per user; the data lives in data/ now

	echo "slapd: up on $LDAPS_URL and $LDAP_URL (pid $pid, $entries entries, dir $DIR) in $(($(now_ms) - t0)) ms" \
		"(tls+conf $((t_tls - t0)) ms, ldif $((t_ldif - t_tls)) ms, slapadd $((t_add - t_ldif)) ms," \
		"slapd start to first LDAPS bind $((t_ready - t_run)) ms); runtime: $DIR/runtime.json"
}

cmd_stop() {
	local pid
	if pid=$(running_pid); then
		stop_pid "$pid"
		echo "slapd: stopped (pid $pid)"
	else
		echo "slapd: not running"
	fi
	rm -f "$PIDFILE"
}

cmd_status() {
	local pid
	if pid=$(running_pid); then
		echo "slapd: running (pid $pid, dir $DIR, $LDAPS_URL)"
	else
		echo "slapd: not running (dir $DIR)"
		return 3
	fi
}

cmd=${1:-}
shift || true
while [[ $# -gt 0 ]]; do
	case "$1" in
	--users)
		[[ $# -ge 2 ]] || { echo "usage: $0 start [--users N]" >&2; exit 2; }
		USERS=$2
		shift 2
		;;
	--users=*)
		USERS=${1#--users=}
		shift
		;;
	*)
		echo "usage: $0 start [--users N] | stop | status" >&2
		exit 2
		;;
	esac
done

case "$cmd" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status || exit $? ;;
*)
	echo "usage: $0 start [--users N] | stop | status" >&2
	exit 2
	;;
esac
