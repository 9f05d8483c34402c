#!/usr/bin/python3
"""Helper for dc.sh: load fixture.json into a provisioned (stopped) Samba AD DC, and small
JSON chores so dc.sh needs no jq.

Must run with /usr/bin/python3: the samba bindings (python3-samba) live in the system Python,
not in pyenv/venv interpreters.

  fixture.py load <samba-dir>                 write OUs, groups, users, memberships, policy into sam.ldb
  fixture.py get <dotted.path>                print one value of fixture.json (e.g. serviceAccount.upn)
  fixture.py accounts                         print "state<TAB>upn<TAB>password" per account with a password
  fixture.py runtime <samba-dir> <pid> <sha>  write <samba-dir>/runtime.json
  fixture.py tokengroups <user-key>           print how many SIDs tokenGroups must hold for that user

Environment (set by dc.sh per instance; the defaults are the CORP forest):
  PORTICO_SAMBA_FIXTURE   fixture file (default fixture.json beside this script)
  PORTICO_SAMBA_ADDRESS   the DC's IPv4 address written into runtime.json (default 127.0.0.1)

Writing sam.ldb directly (system session, one transaction) instead of samba-tool/LDAP keeps the
1,600-user fixture fast: the only expensive part left is password hashing for the few users that
have one.
"""
import json
import os
import sys
import time
from datetime import datetime

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.environ.get("PORTICO_SAMBA_FIXTURE") or os.path.join(HERE, "fixture.json")
ADDRESS = os.environ.get("PORTICO_SAMBA_ADDRESS") or "127.0.0.1"

# groupType bits (MS-ADTS 2.2.12)
SECURITY = 0x80000000
SCOPE = {"global": 0x2, "domainLocal": 0x4, "universal": 0x8}
# userAccountControl bits
UF_ACCOUNTDISABLE = 0x2
UF_NORMAL_ACCOUNT = 0x200
UF_DONT_EXPIRE_PASSWD = 0x10000
# Samba-private control: accept an arbitrary pwdLastSet (normally only 0 or -1 may be written).
# It exists for password imports on upgrades; we use it to back-date one user's password.
BYPASS_LAST_SET = "local_oid:1.3.6.1.4.1.7165.4.3.20:0"

MINUTE = 60 * 10**7  # AD intervals are in 100 ns units


def load_fixture():
    with open(FIXTURE, encoding="utf-8") as f:
        return json.load(f)


def filetime(unix_seconds):
    return str(int((unix_seconds + 11644473600) * 10**7))


def group_type(g):
    t = SCOPE[g["scope"]]
    if g["type"] == "security":
        t |= SECURITY
    # groupType is a signed 32-bit integer in LDAP
    return str(t - 2**32 if t >= 2**31 else t)


def cmd_load(samba_dir):
    import ldb
    from samba.auth import system_session
    from samba.param import LoadParm
    from samba.samdb import SamDB

    fx = load_fixture()
    lp = LoadParm()
    lp.load(os.path.join(samba_dir, "etc", "smb.conf"))
    db = SamDB(url=os.path.join(samba_dir, "private", "sam.ldb"),
               session_info=system_session(), lp=lp)
    base = str(db.domain_dn())
    if base.lower() != fx["domain"]["baseDn"].lower():
        sys.exit("fixture baseDn %s does not match provisioned %s" % (fx["domain"]["baseDn"], base))

    def dn_for(cn, ou, expected=None):
        # set_component escapes , + " \ etc. in the RDN value for us
        dn = ldb.Dn(db, "CN=placeholder,%s,%s" % (ou, base))
        dn.set_component(0, "CN", cn)
        # the fixture spells out each DN for the tests; it must be what the server will return
        if expected is not None and str(dn) != expected:
            sys.exit("fixture dn %r does not match its cn/ou (%r)" % (expected, str(dn)))
        return dn

    t0 = time.time()
    db.transaction_start()
    try:
        pol = fx["passwordPolicy"]
        m = ldb.Message(ldb.Dn(db, base))
        for attr, val in (
                ("lockoutThreshold", str(pol["lockoutThreshold"])),
                ("lockoutDuration", str(-pol["lockoutDurationMinutes"] * MINUTE)),
                ("lockOutObservationWindow", str(-pol["lockoutObservationWindowMinutes"] * MINUTE)),
                ("minPwdAge", str(-pol["minPasswordAgeDays"] * 1440 * MINUTE)),
                ("maxPwdAge", str(-pol["maxPasswordAgeDays"] * 1440 * MINUTE)),
                ("pwdProperties", "1" if pol["complexity"] else "0")):
            m[attr] = ldb.MessageElement(val, ldb.FLAG_MOD_REPLACE, attr)
        db.modify(m)

        for ou in fx["ous"]:
            db.add({"dn": "%s,%s" % (ou, base), "objectClass": "organizationalUnit"})

        dns = {}  # fixture key -> Dn, for memberships
        big = fx.get("bigGroup")  # optional: the partner forest has none
        all_groups = fx["groups"] + ([big] if big else [])
        for g in all_groups:
            dn = dn_for(g["name"], g["ou"], g.get("dn"))
            msg = {"dn": dn, "objectClass": "group", "sAMAccountName": g["sAMAccountName"],
                   "groupType": group_type(g)}
            for opt in ("description", "mail"):
                if g.get(opt):
                    msg[opt] = g[opt]
            db.add(msg)
            dns[g["key"]] = dn

        def add_user(u, uac):
            dn = dn_for(u["cn"], u["ou"], u.get("dn"))
            msg = {"dn": dn, "objectClass": "user", "sAMAccountName": u["sAMAccountName"],
                   "userPrincipalName": u["upn"], "userAccountControl": str(uac),
                   "unicodePwd": ('"%s"' % u["password"]).encode("utf-16-le")}
            for opt in ("givenName", "sn", "displayName", "mail", "department", "title",
                        "employeeID", "initials", "telephoneNumber", "description"):
                if u.get(opt):
                    msg[opt] = u[opt]
            db.add(msg)
            dns[u["key"]] = dn
            return dn

        sa = fx["serviceAccount"]
        add_user(sa, UF_NORMAL_ACCOUNT | (UF_DONT_EXPIRE_PASSWD if sa.get("passwordNeverExpires") else 0))

        for u in fx["users"]:
            state = u["state"]
            uac = UF_NORMAL_ACCOUNT | (UF_ACCOUNTDISABLE if state == "disabled" else 0)
            dn = add_user(u, uac)
            m = ldb.Message(dn)
            controls = []
            if state == "expired":
                when = datetime.fromisoformat(u["accountExpires"].replace("Z", "+00:00")).timestamp()
                m["accountExpires"] = ldb.MessageElement(filetime(when), ldb.FLAG_MOD_REPLACE, "accountExpires")
            elif state == "mustChange":
                m["pwdLastSet"] = ldb.MessageElement("0", ldb.FLAG_MOD_REPLACE, "pwdLastSet")
            elif state == "passwordExpired":
                when = time.time() - u["passwordAgeDays"] * 86400
                m["pwdLastSet"] = ldb.MessageElement(filetime(when), ldb.FLAG_MOD_REPLACE, "pwdLastSet")
                controls = [BYPASS_LAST_SET]
            elif state not in ("ok", "disabled", "locked"):
                sys.exit("unknown user state %r for %s" % (state, u["key"]))
            if len(m) > 0:
                db.modify(m, controls=controls)
            # "locked" is done by dc.sh with wrong-password binds once the server runs

        bulk_dns = []
        for i in range(1, big["memberCount"] + 1 if big else 1):
            name = "%s%0*d" % (big["memberPrefix"], big["memberDigits"], i)
            dn = dn_for(name, big["memberOu"])
            # no password: AD creates the account disabled, which is all a member needs
            db.add({"dn": dn, "objectClass": "user", "sAMAccountName": name,
                    "displayName": "Bulk User %s" % name[len(big["memberPrefix"]):]})
            bulk_dns.append(str(dn))

        members = {g["key"]: [] for g in all_groups}
        if big:
            members[big["key"]] = bulk_dns
        for obj in fx["users"] + fx["groups"]:
            for parent in obj.get("memberOf", []):
                if parent not in members:
                    sys.exit("%s is memberOf unknown group %s" % (obj["key"], parent))
                members[parent].append(str(dns[obj["key"]]))
        for key, vals in members.items():
            if vals:
                m = ldb.Message(dns[key])
                m["member"] = ldb.MessageElement(vals, ldb.FLAG_MOD_ADD, "member")
                db.modify(m)
    except BaseException:
        db.transaction_cancel()
        raise
    db.transaction_commit()
    print("fixture: %d users, %d groups, %d bulk members loaded in %.1fs"
          % (len(fx["users"]) + 1, len(all_groups), len(bulk_dns), time.time() - t0))


def cmd_get(path):
    v = load_fixture()
    for part in path.split("."):
        v = v[int(part)] if isinstance(v, list) else v[part]
    print(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))


def cmd_accounts():
    fx = load_fixture()
    sa = fx["serviceAccount"]
    for u in [dict(sa, state="ok")] + fx["users"]:
        print("%s\t%s\t%s" % (u["state"], u["upn"], u["password"]))


def cmd_runtime(samba_dir, pid, sha):
    fx = load_fixture()
    d = fx["domain"]
    rt = {
        "ldapsUrl": "ldaps://%s:636" % ADDRESS,
        "ldapUrl": "ldap://%s:389" % ADDRESS,
        "caFile": os.path.join(samba_dir, "tls", "ca.pem"),
        "certSha256": sha,
        "baseDn": d["baseDn"],
        "domain": d["dnsName"],
        "netbiosName": d["netbiosName"],
        "admin": {"username": "Administrator@" + d["dnsName"], "password": fx["adminPassword"]},
        "serviceAccount": {"username": fx["serviceAccount"]["upn"],
                           "password": fx["serviceAccount"]["password"]},
        "pid": int(pid),
    }
    path = os.path.join(samba_dir, "runtime.json")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(rt, f, indent=2, ensure_ascii=False)
        f.write("\n")
    os.replace(path + ".tmp", path)  # readers never see a half-written file


def cmd_tokengroups(key):
    """tokenGroups of a user = its transitive security groups + Domain Users (primary group)
    + BUILTIN\\Users (S-1-5-32-545). Distribution groups are not in it."""
    fx = load_fixture()
    groups = {g["key"]: g for g in fx["groups"]}
    user = next(u for u in fx["users"] if u["key"] == key)
    seen, todo = set(), list(user.get("memberOf", []))
    while todo:  # mind the cycles
        k = todo.pop()
        if k not in seen:
            seen.add(k)
            todo.extend(groups[k].get("memberOf", []))
    print(sum(1 for k in seen if groups[k]["type"] == "security") + 2)


if __name__ == "__main__":
    cmds = {"load": (cmd_load, 1), "get": (cmd_get, 1), "accounts": (cmd_accounts, 0), "runtime": (cmd_runtime, 3),
            "tokengroups": (cmd_tokengroups, 1)}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds or len(sys.argv) != 2 + cmds[sys.argv[1]][1]:
        sys.exit(__doc__)
    fn, _ = cmds[sys.argv[1]]
    fn(*sys.argv[2:])
