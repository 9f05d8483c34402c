#!/usr/bin/env bash
# A real Samba 4 AD domain controller for Portico's integration tests.
#
#   bash test/samba/dc.sh start    provision a fresh domain, load fixture.json, run samba, write runtime.json
#   bash test/samba/dc.sh stop     stop the samba this script started (idempotent)
#   bash test/samba/dc.sh status   exit 0 if it runs, 3 if not
#
# Environment: PORTICO_SAMBA_DIR (default /tmp/portico-samba; wiped by start),
#              PORTICO_SAMBA_MODEL (samba process model, default single),
#              PORTICO_SAMBA_INSTANCE (corp, the default, or partner: the second forest
#                PARTNER.EXAMPLE.TEST from partner-fixture.json on 127.0.0.2, in
#                PORTICO_PARTNER_DIR, default /tmp/portico-samba-partner).
# See README.md in this folder.
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
INSTANCE=${PORTICO_SAMBA_INSTANCE:-corp}
case "$INSTANCE" in
corp)
	NAME=samba-dc
	DIR_VAR=PORTICO_SAMBA_DIR
	DIR=${PORTICO_SAMBA_DIR:-/tmp/portico-samba}
	ADDR=127.0.0.1
	FIXTURE_JSON="$HERE/fixture.json"
	RPC_PORTS=62400-62499
	CA_CN="Portico Samba Test CA"
	DC_CN=dc1.corp.example.test
	DC_SAN="DNS:dc1.corp.example.test, DNS:localhost, IP:127.0.0.1, IP:127.0.0.2"
	;;
partner)
	NAME=samba-dc-partner
	DIR_VAR=PORTICO_PARTNER_DIR
	DIR=${PORTICO_PARTNER_DIR:-/tmp/portico-samba-partner}
	ADDR=127.0.0.2 # a second loopback address: same ports as CORP, no clash
	FIXTURE_JSON="$HERE/partner-fixture.json"
	RPC_PORTS=62500-62599 # not needed (other address), but keeps the two apart in ss output
	CA_CN="Portico Samba Partner Test CA"
	DC_CN=dc1.partner.example.test
	DC_SAN="DNS:dc1.partner.example.test, DNS:localhost, IP:127.0.0.2"
	;;
*)
	echo "samba-dc: PORTICO_SAMBA_INSTANCE must be corp or partner (got '$INSTANCE')" >&2
	exit 2
	;;
esac
# fixture.py reads these two
export PORTICO_SAMBA_FIXTURE="$FIXTURE_JSON" PORTICO_SAMBA_ADDRESS="$ADDR"
MODEL=${PORTICO_SAMBA_MODEL:-single}
PY=/usr/bin/python3 # the samba bindings only exist for the system Python
FIXTURE_PY="$HERE/fixture.py"
PIDFILE="$DIR/dc.pid"
LOG="$DIR/samba.log"
CONF="$DIR/etc/smb.conf"
CA="$DIR/tls/ca.pem"
LDAPS_URL=ldaps://$ADDR:636
READY_TIMEOUT=60
PACKAGES=(samba samba-ad-dc samba-ad-provision ldap-utils winbind krb5-user python3-samba openssl)

STARTED_PID=""
PHASE_LOG="" # the log worth showing if the current step fails

log() { echo "$NAME: $*" >&2; }

die() {
	trap - ERR
	log "ERROR: $*"
	if [[ -n $PHASE_LOG && -s $PHASE_LOG ]]; then
		log "--- last lines of $PHASE_LOG ---"
		tail -n 30 "$PHASE_LOG" >&2
	fi
	# never leave a half-started DC behind
	if [[ -n $STARTED_PID ]]; then
		kill_group "$STARTED_PID"
		rm -f "$PIDFILE"
	fi
	exit 1
}
trap 'die "command failed (exit $?) at line $LINENO: $BASH_COMMAND"' ERR

fixture() { "$PY" "$FIXTURE_PY" "$@"; }

# Refuse to rm -rf anything that is not clearly a scratch directory.
check_dir() {
	[[ $DIR == /* ]] || die "$DIR_VAR must be an absolute path (got '$DIR')"
	case "$DIR" in
	/ | /tmp | /root | /home | /var | /usr | /etc) die "refusing to use '$DIR' as $DIR_VAR" ;;
	esac
}

ensure_packages() {
	local missing=() p
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	if [[ ${#missing[@]} -eq 0 ]]; then return 0; fi
	[[ $(id -u) -eq 0 ]] || die "missing packages: ${missing[*]} (run as root to install them)"
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || die "apt-get update failed"
	# Ubuntu lacks some Debian split packages (e.g. samba-ad-dc on older releases): skip those
	local installable=()
	for p in "${missing[@]}"; do
		if apt-cache show "$p" >/dev/null 2>&1; then installable+=("$p"); else log "note: no package '$p' here, skipping"; fi
	done
	apt-get install -y -qq --no-install-recommends "${installable[@]}" >/dev/null ||
		die "apt-get install ${installable[*]} failed"
}

is_our_samba() { # pid: alive and really a samba binary
	local pid=$1
	[[ $pid =~ ^[0-9]+$ ]] && [[ -d /proc/$pid ]] && [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == */samba ]]
}

running_pid() { # prints the pid of our running samba, if any
	local f pid
	for f in "$PIDFILE" "$DIR/run/samba.pid"; do
		[[ -r $f ]] || continue
		pid=$(tr -dc '0-9' <"$f")
		if is_our_samba "$pid"; then
			echo "$pid"
			return 0
		fi
	done
	return 1
}

# samba was started with setsid, so it leads its own process group together with the smbd and
# winbindd it forks: signal the whole group and wait until every member is gone.
kill_group() {
	local pid=$1 i
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 150); do
		kill -0 -- "-$pid" 2>/dev/null || kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.2
	done
	log "samba (pid $pid) ignored SIGTERM for 30 s, sending SIGKILL"
	kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
	sleep 0.5
}

port_busy() { (exec 3<>"/dev/tcp/$ADDR/$1") 2>/dev/null; }

# samba only binds the addresses its `interfaces` match on a real interface: the partner's
# 127.0.0.2 must exist on lo (Linux routes all of 127/8 to lo, but does not list it).
ensure_address() {
	[[ $ADDR == 127.0.0.1 ]] && return 0
	command -v ip >/dev/null || die "'ip' not found (install iproute2)"
	local addrs
	addrs=$(ip -4 -o addr show dev lo) || die "cannot list the addresses of lo"
	[[ $addrs == *" inet $ADDR/"* ]] && return 0
	log "adding $ADDR/8 to lo"
	ip addr add "$ADDR/8" dev lo || die "cannot add $ADDR/8 to lo"
}

# Prints the bind diagnostic; exit status 0 when the bind (and a rootDSE read) succeeded.
try_bind() { # user password
	LDAPTLS_CACERT="$CA" LDAPTLS_REQCERT=demand \
		ldapsearch -LLL -x -o nettimeout=5 -H "$LDAPS_URL" -D "$1" -w "$2" -b "" -s base 1.1 2>&1 >/dev/null
}

# AD's sub-code ("data 52e") of a failed bind, "ok" on success.
bind_subcode() { # user password
	local out
	if out=$(try_bind "$1" "$2"); then
		echo ok
	else
		sed -n 's/.*data \([0-9a-f]*\),.*/\1/p' <<<"$out" | head -n 1 | grep . || echo "error: ${out//$'\n'/ }"
	fi
}

make_tls() {
	local t="$DIR/tls"
	mkdir -p "$t"
	(
		umask 077 # samba refuses a key file others can read
		openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/CN=$CA_CN" \
			-keyout "$t/ca-key.pem" -out "$t/ca.pem" \
			-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
		openssl req -new -newkey rsa:2048 -nodes -subj "/CN=$DC_CN" \
			-keyout "$t/dc-key.pem" -out "$t/dc.csr" 2>/dev/null
		cat >"$t/dc-ext.cnf" <<-EOF
			basicConstraints = critical, CA:FALSE
			keyUsage = critical, digitalSignature, keyEncipherment
			extendedKeyUsage = serverAuth
			subjectKeyIdentifier = hash
			authorityKeyIdentifier = keyid
			subjectAltName = $DC_SAN
		EOF
		openssl x509 -req -in "$t/dc.csr" -CA "$t/ca.pem" -CAkey "$t/ca-key.pem" \
			-set_serial "0x$(openssl rand -hex 16)" -days 825 -sha256 -extfile "$t/dc-ext.cnf" -out "$t/dc.pem" 2>/dev/null
	)
	chmod 644 "$t/ca.pem" "$t/dc.pem" # tests may run as another user
	openssl verify -CAfile "$t/ca.pem" "$t/dc.pem" >/dev/null || die "generated certificate does not verify"
}

cmd_start() {
	local t0=$SECONDS pid realm domain netbios host admin_pw svc_user svc_pw i out
	check_dir
	[[ $(id -u) -eq 0 ]] || die "start must run as root (samba binds ports 88, 389, 636)"
	ensure_packages
	local c
	for c in samba samba-tool ldapsearch openssl setsid sha256sum; do
		command -v "$c" >/dev/null || die "'$c' not found (install: ${PACKAGES[*]})"
	done
	[[ -x $PY ]] && "$PY" -c 'import samba' 2>/dev/null || die "$PY cannot import samba (python3-samba missing?)"

	cmd_stop >/dev/null
	ensure_address
	for i in 88 389 636; do
		if port_busy "$i"; then
			die "$ADDR:$i is already in use by another process: $(ss -ltnpH "sport = :$i" 2>/dev/null || true)"
		fi
	done

	rm -rf "$DIR"
	mkdir -p "$DIR/run" "$DIR/log"

	realm=$(fixture get domain.realm)
	netbios=$(fixture get domain.netbiosName)
	host=$(fixture get domain.hostName)
	admin_pw=$(fixture get adminPassword)
	svc_user=$(fixture get serviceAccount.upn)
	svc_pw=$(fixture get serviceAccount.password)

	make_tls
	local t_prov=$SECONDS

	PHASE_LOG="$DIR/provision.log"
	# -s /dev/null: do not inherit the machine's /etc/samba/smb.conf into ours.
	# No nbt/wrepl (NetBIOS/WINS), no DNS (--dns-backend=NONE), no dnsupdate: not needed for LDAP/Kerberos
	# and they would only add ports and noise. Everything stateful lives under $DIR.
	samba-tool domain provision -s /dev/null \
		--realm="$realm" --domain="$netbios" --server-role=dc --dns-backend=NONE \
		--host-name="$host" --adminpass="$admin_pw" --targetdir="$DIR" \
		--option="interfaces=$ADDR/8" \
		--option="bind interfaces only=yes" \
		--option="rpc server dynamic port range=$RPC_PORTS" \
		--option="server services=-dns -nbt -wrepl -dnsupdate -ntp_signd" \
		--option="pid directory=$DIR/run" \
		--option="ncalrpc dir=$DIR/run/ncalrpc" \
		--option="winbindd socket directory=$DIR/run/winbindd" \
		--option="ntp signd socket directory=$DIR/run/ntp_signd" \
		--option="log file=$DIR/log/%m.log" \
		--option="tls enabled=yes" \
		--option="tls keyfile=$DIR/tls/dc-key.pem" \
		--option="tls certfile=$DIR/tls/dc.pem" \
		--option="tls cafile=$DIR/tls/ca.pem" \
		>"$DIR/provision.log" 2>&1 || die "samba-tool domain provision failed"

	local t_load=$SECONDS
	fixture load "$DIR" >>"$DIR/provision.log" 2>&1 || die "loading $(basename "$FIXTURE_JSON") failed"
	local t_run=$SECONDS

	# setsid: own session and process group, so the DC outlives this shell and stop can signal the
	# whole group. stdin from /dev/null so nothing ties it to the caller's terminal or pipes.
	PHASE_LOG="$LOG"
	setsid samba -s "$CONF" -i -M "$MODEL" </dev/null >"$LOG" 2>&1 &
	pid=$!
	STARTED_PID=$pid
	echo "$pid" >"$PIDFILE"

	for ((i = 0; ; i++)); do
		if out=$(try_bind "$svc_user" "$svc_pw"); then break; fi
		kill -0 "$pid" 2>/dev/null || die "samba exited during startup"
		((i < READY_TIMEOUT * 4)) || die "no LDAPS bind as $svc_user after ${READY_TIMEOUT}s: $out"
		sleep 0.25
	done

	local t_ready=$SECONDS

	# Lock out the "locked" users the way it happens in real life: wrong-password binds.
	local threshold state upn pw code failed=0
	threshold=$(fixture get passwordPolicy.lockoutThreshold)
	while IFS=$'\t' read -r state upn pw; do
		[[ $state == locked ]] || continue
		for ((i = 0; i < threshold; i++)); do
			try_bind "$upn" "wrong-$RANDOM-password" >/dev/null || true
		done
	done < <(fixture accounts)

	# Self-check: every account answers its state's sub-code with the right password.
	while IFS=$'\t' read -r state upn pw; do
		if [[ $state == ok ]]; then want=ok; else want=$(fixture get "bindSubcodes.$state"); fi
		code=$(bind_subcode "$upn" "$pw")
		if [[ $code != "$want" ]]; then
			log "self-check: $upn ($state) answered '$code', expected '$want'"
			failed=1
		fi
	done < <(fixture accounts)
	((failed == 0)) || die "fixture self-check failed"

	local sha
	sha=$(openssl x509 -in "$DIR/tls/dc.pem" -outform DER | sha256sum | cut -d' ' -f1)
	fixture runtime "$DIR" "$pid" "$sha"
	STARTED_PID="" # success: keep it running

	echo "$NAME: $realm up on $LDAPS_URL (pid $pid, model $MODEL, dir $DIR) in $((SECONDS - t0))s" \
		"(provision $((t_load - t_prov))s, fixture $((t_run - t_load))s, server ready $((t_ready - t_run))s," \
		"checks $((SECONDS - t_ready))s); runtime: $DIR/runtime.json"
}

cmd_stop() {
	local pid
	if pid=$(running_pid); then
		kill_group "$pid"
		echo "$NAME: stopped (pid $pid)"
	else
		echo "$NAME: not running"
	fi
	rm -f "$PIDFILE"
}

cmd_status() {
	local pid
	if pid=$(running_pid); then
		echo "$NAME: running (pid $pid, dir $DIR, $LDAPS_URL)"
	else
		echo "$NAME: not running (dir $DIR)"
		return 3
	fi
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status || exit $? ;;
*)
	echo "usage: $0 start|stop|status" >&2
	exit 2
	;;
esac
