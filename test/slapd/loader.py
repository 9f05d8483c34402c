#!/usr/bin/python3
"""LDIF generator for the OpenLDAP benchmark directory (test/slapd/slapd.sh loads its output with
slapadd before slapd starts).

  loader.py ldif [--users N] [--fixture PATH] [--base DN] > data.ldif
      the base entries, ou=people with every account of the CORP fixture (test/samba/fixture.json:
      its users and the service account, uid = sAMAccountName, same passwords) and, with
      --users N, N synthetic users in ou=bench: uid benchNNNNNN, password Bench-Pw-NNNNNN!
  loader.py ssha PASSWORD
      print the {SSHA} hash of PASSWORD (as slappasswd does: SHA-1 over password + 8-byte salt)
  loader.py runtime DIR PID SHA256 USERS ADMIN_PASSWORD [--fixture PATH] [--base DN]
      write DIR/runtime.json (atomically)

Only the standard library: hashing 100,000 {SSHA} passwords takes well under a second.
"""
import argparse
import base64
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_FIXTURE = os.path.join(HERE, "..", "samba", "fixture.json")
DEFAULT_BASE = "dc=corp,dc=example,dc=test"
SYNTH_UID = "bench%0*d"
SYNTH_PASSWORD = "Bench-Pw-%0*d!"


def ssha(password):
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode("utf-8") + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode("ascii")


def dn_value(v):
    """RFC 4514 escaping of an attribute value inside a DN."""
    out = "".join("\\" + c if c in ',+"\\<>;=' else c for c in v)
    if out.startswith((" ", "#")):
        out = "\\" + out
    if out.endswith(" "):
        out = out[:-1] + "\\ "
    return out


def ldif_line(attr, value):
    """attr: value, or attr:: base64 when RFC 2849 does not allow the value as a SAFE-STRING."""
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    unsafe = value.startswith((" ", ":", "<")) or value.endswith(" ") \
        or any(not (0x20 <= ord(c) <= 0x7E) for c in value)
    if unsafe:
        return "%s:: %s" % (attr, base64.b64encode(value.encode("utf-8")).decode("ascii"))
    return "%s: %s" % (attr, value)


def entry(dn, attrs):
    lines = [ldif_line("dn", dn)]
    for attr, values in attrs:
        for v in values if isinstance(values, list) else [values]:
            if v is not None and v != "":
                lines.append(ldif_line(attr, v))
    return "\n".join(lines) + "\n\n"


def person(dn, uid, cn, sn, given, mail, password, extra=()):
    return entry(dn, [("objectClass", ["top", "person", "organizationalPerson", "inetOrgPerson"]),
                      ("uid", uid), ("cn", cn), ("sn", sn), ("givenName", given), ("mail", mail),
                      *extra, ("userPassword", ssha(password))])


def load_fixture(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def fixture_accounts(fx):
    sa = dict(fx["serviceAccount"], state="ok")
    return [sa] + fx["users"]


def cmd_ldif(args):
    fx = load_fixture(args.fixture)
    base = args.base
    domain = fx["domain"]["dnsName"]
    out = sys.stdout
    first_rdn = base.split(",")[0].split("=", 1)[1]
    out.write(entry(base, [("objectClass", ["top", "dcObject", "organization"]), ("dc", first_rdn),
                           ("o", "Portico benchmark directory (%s)" % domain)]))
    out.write(entry("ou=people,%s" % base, [("objectClass", ["top", "organizationalUnit"]), ("ou", "people")]))
    for u in fixture_accounts(fx):
        uid = u["sAMAccountName"]
        # OpenLDAP has no account states without ppolicy: every fixture account binds here, the
        # fixture's AD state is only recorded in description
        out.write(person("uid=%s,ou=people,%s" % (dn_value(uid), base), uid, u["cn"], u.get("sn") or u["cn"],
                         u.get("givenName"), u.get("mail") or u["upn"], u["password"],
                         [("displayName", u.get("displayName")), ("title", u.get("title")),
                          ("initials", u.get("initials")), ("telephoneNumber", u.get("telephoneNumber")),
                          ("employeeNumber", u.get("employeeID")), ("departmentNumber", u.get("department")),
                          ("description", "fixture state: %s" % u["state"])]))
    if args.users > 0:
        out.write(entry("ou=bench,%s" % base, [("objectClass", ["top", "organizationalUnit"]), ("ou", "bench")]))
        w = max(6, len(str(args.users)))
        for i in range(1, args.users + 1):
            uid = SYNTH_UID % (w, i)
            n = "%0*d" % (w, i)
            out.write(person("uid=%s,ou=bench,%s" % (uid, base), uid, "Bench User %s" % n, "User%s" % n, "Bench",
                             "%s@%s" % (uid, domain), SYNTH_PASSWORD % (w, i)))


def cmd_runtime(args):
    fx = load_fixture(args.fixture)
    base = args.base
    sa = fx["serviceAccount"]
    alice = fx["users"][0]
    w = max(6, len(str(args.users)))
    rt = {
        "ldapUrl": "ldap://127.0.0.1:3890",
        "ldapsUrl": "ldaps://127.0.0.1:6360",
        "caFile": os.path.join(args.dir, "tls", "ca.pem"),
        "certSha256": args.sha,
        "baseDn": base,
        "admin": {"dn": "cn=admin,%s" % base, "password": args.admin_password},
        "serviceAccount": {"dn": "uid=%s,ou=people,%s" % (sa["sAMAccountName"], base), "password": sa["password"]},
        "user": {"dn": "uid=%s,ou=people,%s" % (alice["sAMAccountName"], base), "uid": alice["sAMAccountName"],
                 "password": alice["password"]},
        "peopleDn": "ou=people,%s" % base,
        "fixtureUsers": len(fixture_accounts(fx)),
        "syntheticUsers": {"count": args.users, "dn": "ou=bench,%s" % base,
                           "uidPattern": SYNTH_UID.replace("*", str(w)),
                           "passwordPattern": SYNTH_PASSWORD.replace("*", str(w))},
        "pid": int(args.pid),
    }
    path = os.path.join(args.dir, "runtime.json")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(rt, f, indent=2, ensure_ascii=False)
        f.write("\n")
    os.replace(path + ".tmp", path)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("ldif", "runtime"):
        s = sub.add_parser(name)
        s.add_argument("--fixture", default=DEFAULT_FIXTURE)
        s.add_argument("--base", default=DEFAULT_BASE)
        if name == "ldif":
            s.add_argument("--users", type=int, default=0, help="synthetic users to add (default 0)")
        else:
            for a in ("dir", "pid", "sha"):
                s.add_argument(a)
            s.add_argument("users", type=int)
            s.add_argument("admin_password")
    s = sub.add_parser("ssha")
    s.add_argument("password")
    args = p.parse_args()
    if args.cmd == "ldif":
        if args.users < 0:
            p.error("--users must be >= 0")
        cmd_ldif(args)
    elif args.cmd == "runtime":
        cmd_runtime(args)
    else:
        print(ssha(args.password))


if __name__ == "__main__":
    main()
