#!/usr/bin/env python3
"""A SAML 2.0 service provider we did not write: pysaml2 (Debian's python3-pysaml2), driven as a CLI.

The interoperability tests (test/federation/pysaml2.interop.test.ts, through test/support/pysaml2.ts)
hand this script one JSON document on stdin — keys are PEM text and never appear on the command
line — and read one JSON document from stdout:

    {
      "action": "authn-request" | "parse-response" | "logout-request" | "parse-logout-response",
      "idpMetadata": "<md:EntityDescriptor …>",   # Portico's metadata; the only keys trusted
      "idpEntityId": "…",                           # optional: the only IdP in the metadata by default
      "sp": {
        "entityId": "…", "acsUrl": "…", "sloUrl": "…"?,
        "signing": {"keyPem": "…", "certPem": "…"}?,      # signs AuthnRequests/LogoutRequests
        "encryption": {"keyPem": "…", "certPem": "…"}?,   # decrypts EncryptedAssertion
        "wantAssertionsSigned": true, "wantResponseSigned": false, "allowUnsolicited": false,
        "acceptedTimeDiff": 5
      },
      … the action's own fields (see each handler below)
    }

Refusals by pysaml2 are results ({"ok": false, …}, exit 0); a non-zero exit means the harness
itself failed (bad input: 2, pysaml2 missing: 3, anything else: 1), with the reason on stderr.

With --serve the script answers many such documents, one JSON line each way (see serve()).
"""

import base64
import json
import logging
import os
import sys
import tempfile
import traceback
from urllib.parse import parse_qs, urlparse

try:
    import saml2
    from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
    from saml2.client import Saml2Client
    from saml2.config import SPConfig
    from saml2.saml import NameID
    from saml2.sigver import RSACrypto, verify_redirect_signature
    from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256
except ImportError as error:  # pragma: no cover - reported to the TypeScript wrapper
    sys.stderr.write(
        "pysaml2 is not importable by %s (%s): install Debian's python3-pysaml2 and xmlsec1\n" % (sys.executable, error)
    )
    sys.exit(3)

XMLSEC1 = os.environ.get("PYSAML2_XMLSEC1", "/usr/bin/xmlsec1")
PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"


class HarnessError(Exception):
    """The input is wrong: a bug in the caller, not a refusal by pysaml2."""


class LogCollector(logging.Handler):
    """Keeps what pysaml2 logs at WARNING and above, to explain a refusal."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines = []

    def emit(self, record):
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call inside pysaml2 must not hide the real error
            message = str(record.msg)
        self.lines.append("%s: %s" % (record.name, message[:2000]))


def required(document, key, kind=str):
    value = document.get(key)
    if not isinstance(value, kind) or value == "":
        raise HarnessError("missing or invalid %r" % key)
    return value


def write_private(directory, name, content):
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content)
    return path


def make_client(document, directory):
    sp = required(document, "sp", dict)
    metadata_path = write_private(directory, "idp-metadata.xml", required(document, "idpMetadata"))
    endpoints = {"assertion_consumer_service": [(required(sp, "acsUrl"), BINDING_HTTP_POST)]}
    if sp.get("sloUrl"):
        endpoints["single_logout_service"] = [(sp["sloUrl"], BINDING_HTTP_REDIRECT)]

    service = {
        "endpoints": endpoints,
        "want_assertions_signed": bool(sp.get("wantAssertionsSigned", True)),
        "want_response_signed": bool(sp.get("wantResponseSigned", False)),
        "allow_unsolicited": bool(sp.get("allowUnsolicited", False)),
        "authn_requests_signed": bool(sp.get("signing")),
        "logout_requests_signed": bool(sp.get("signing")),
        "name_id_policy_format": sp.get("nameIdFormat", PERSISTENT),
        "name_id_format_allow_create": False,
    }
    config = {
        "entityid": required(sp, "entityId"),
        "xmlsec_binary": XMLSEC1,
        "crypto_backend": "xmlsec1",
        "metadata": {"local": [metadata_path]},
        # Only the IdP metadata's certificates verify signatures, never one the message carries.
        "only_use_keys_in_metadata": True,
        "accepted_time_diff": int(sp.get("acceptedTimeDiff", 5)),
        "allow_unknown_attributes": True,
        "signing_algorithm": SIG_RSA_SHA256,
        "digest_algorithm": DIGEST_SHA256,
        "delete_tmpfiles": True,
        "service": {"sp": service},
    }
    signing = sp.get("signing")
    if signing:
        config["key_file"] = write_private(directory, "sp-signing.key", required(signing, "keyPem"))
        config["cert_file"] = write_private(directory, "sp-signing.crt", required(signing, "certPem"))
    encryption = sp.get("encryption")
    if encryption:
        config["encryption_keypairs"] = [
            {
                "key_file": write_private(directory, "sp-encryption.key", required(encryption, "keyPem")),
                "cert_file": write_private(directory, "sp-encryption.crt", required(encryption, "certPem")),
            }
        ]

    sp_config = SPConfig()
    sp_config.load(config)
    client = Saml2Client(config=sp_config)

    idp_entity_id = document.get("idpEntityId")
    idps = list(client.metadata.identity_providers())
    if idp_entity_id is None:
        if len(idps) != 1:
            raise HarnessError("the metadata describes %d identity providers; give idpEntityId" % len(idps))
        idp_entity_id = idps[0]
    elif idp_entity_id not in idps:
        raise HarnessError("the metadata does not describe the identity provider %r" % idp_entity_id)
    return client, idp_entity_id


def redirect_result(info, request_id, relay_state):
    location = dict(info["headers"])["Location"]
    query = parse_qs(urlparse(location).query)
    return {
        "url": location,
        "requestId": request_id,
        "relayState": relay_state,
        "signed": "Signature" in query,
    }


def authn_request(document, client, idp_entity_id):
    """{relayState?} → {url, requestId, relayState, signed}: an AuthnRequest over HTTP-Redirect."""
    relay_state = document.get("relayState", "")
    sign = bool(document["sp"].get("signing"))
    request_id, info = client.prepare_for_authenticate(
        entityid=idp_entity_id,
        relay_state=relay_state,
        binding=BINDING_HTTP_REDIRECT,
        sign=sign,
        sigalg=SIG_RSA_SHA256 if sign else None,
        digest_alg=DIGEST_SHA256,
    )
    return redirect_result(info, request_id, relay_state)


def text_of(element):
    return None if element is None else element.text


def parse_response(document, client, idp_entity_id, log):
    """{samlResponse (base64), outstandingRequestIds?: [id]} → what pysaml2 made of the Response."""
    saml_response = required(document, "samlResponse")
    outstanding = {request_id: "/" for request_id in document.get("outstandingRequestIds") or []}
    try:
        # conv_info makes pysaml2 check SubjectConfirmationData Recipient against the ACS URL
        # (without it, verify_recipient accepts any recipient).
        response = client.parse_authn_request_response(
            saml_response, BINDING_HTTP_POST, outstanding=outstanding, conv_info={"remote_addr": "0.0.0.0"}
        )
    except Exception as error:  # every refusal pysaml2 raises is a result, not a harness failure
        return refusal(type(error).__name__, str(error) or repr(error), log)

    # pysaml2 does not always raise: e.g. a Destination that is not our ACS URL leaves a response
    # without an assertion. Only a verified assertion with a subject counts as acceptance.
    if response is None:
        return refusal("NoResponse", "pysaml2 returned no response", log)
    if response.assertion is None or getattr(response, "name_id", None) is None:
        return refusal("NoVerifiedAssertion", "pysaml2 did not accept an assertion from the response", log)

    assertion = response.assertion
    info = response.session_info()
    name_id = info["name_id"]
    conditions = assertion.conditions
    audiences = []
    if conditions is not None:
        for restriction in conditions.audience_restriction:
            audiences.extend(text_of(audience) for audience in restriction.audience)
    attributes = []
    for statement in assertion.attribute_statement:
        for attribute in statement.attribute:
            attributes.append(
                {
                    "name": attribute.name,
                    "nameFormat": attribute.name_format,
                    "friendlyName": attribute.friendly_name,
                    "values": [value.text for value in attribute.attribute_value],
                }
            )
    confirmation = assertion.subject.subject_confirmation[0].subject_confirmation_data
    encrypted = "EncryptedAssertion" in base64.b64decode(saml_response).decode("utf-8", "replace")
    return {
        "ok": True,
        "issuer": info["issuer"],
        "nameId": name_id.text,
        "nameIdFormat": name_id.format,
        "nameQualifier": name_id.name_qualifier,
        "spNameQualifier": name_id.sp_name_qualifier,
        "ava": info["ava"],
        "attributes": attributes,
        "sessionIndex": info["session_index"],
        "authnContextClassRef": info["authn_info"][0][0] if info["authn_info"] else None,
        "inResponseTo": response.in_response_to,
        "subjectInResponseTo": confirmation.in_response_to,
        "recipient": confirmation.recipient,
        "audiences": audiences,
        # Epoch seconds: the session's end when SessionNotOnOrAfter is given, else the assertion's.
        "notOnOrAfter": info["not_on_or_after"],
        "responseSigned": response.response.signature is not None,
        "assertionSigned": assertion.signature is not None,
        "encrypted": encrypted,
        "cameFrom": response.came_from,
        "log": log.lines,
    }


def refusal(error_type, message, log):
    return {"ok": False, "errorType": error_type, "error": message, "log": log.lines}


def logout_request(document, client, idp_entity_id):
    """{nameId: {value, format?, nameQualifier?, spNameQualifier?}, sessionIndexes?, relayState?}
    → {url, requestId, relayState, signed}: a LogoutRequest over HTTP-Redirect to the IdP's SLO URL."""
    name = required(document, "nameId", dict)
    name_id = NameID(
        text=required(name, "value"),
        format=name.get("format", PERSISTENT),
        name_qualifier=name.get("nameQualifier"),
        sp_name_qualifier=name.get("spNameQualifier"),
    )
    services = client.metadata.single_logout_service(idp_entity_id, BINDING_HTTP_REDIRECT, "idpsso")
    if not services:
        raise HarnessError("the IdP metadata has no HTTP-Redirect SingleLogoutService")
    destination = services[0]["location"]
    sign = bool(document["sp"].get("signing"))
    request_id, request = client.create_logout_request(
        destination,
        idp_entity_id,
        name_id=name_id,
        session_indexes=document.get("sessionIndexes") or None,
        sign=False,  # HTTP-Redirect signs the query, not the XML
    )
    relay_state = document.get("relayState", "")
    info = client.apply_binding(
        BINDING_HTTP_REDIRECT,
        str(request),
        destination,
        relay_state,
        sign=sign,
        sigalg=SIG_RSA_SHA256 if sign else None,
    )
    return redirect_result(info, request_id, relay_state)


def parse_logout_response(document, client, idp_entity_id, log):
    """{url (the HTTP-Redirect URL carrying SAMLResponse), requestId?} → the LogoutResponse as pysaml2 reads it.

    pysaml2 does not verify an HTTP-Redirect query signature inside parse_logout_request_response;
    an SP does that first with saml2.sigver.verify_redirect_signature, against the IdP
    metadata's signing certificates — as here. An unsigned response is refused.
    """
    query = {key: values[0] for key, values in parse_qs(urlparse(required(document, "url")).query).items()}
    if "SAMLResponse" not in query:
        raise HarnessError("the URL carries no SAMLResponse")
    if "Signature" not in query or "SigAlg" not in query:
        return refusal("UnsignedLogoutResponse", "the LogoutResponse carries no query signature", log)
    certificates = client.metadata.certs(idp_entity_id, "idpsso", "signing")
    # An SP without a signing key has no backend of its own; verifying needs none of its key.
    backend = client.sec.sec_backend or RSACrypto(None)
    verified = False
    for certificate in certificates:
        try:
            if verify_redirect_signature(query, backend, cert=certificate[1] if isinstance(certificate, tuple) else certificate):
                verified = True
                break
        except Exception as error:
            log.lines.append("verify_redirect_signature: %s: %s" % (type(error).__name__, error))
    if not verified:
        return refusal("SignatureError", "the LogoutResponse's query signature does not verify with the IdP metadata's certificates", log)

    try:
        response = client.parse_logout_request_response(query["SAMLResponse"], BINDING_HTTP_REDIRECT)
    except Exception as error:
        return refusal(type(error).__name__, str(error) or repr(error), log)
    if response is None or response.response is None:
        return refusal("NoResponse", "pysaml2 returned no logout response", log)
    # StatusResponse.verify checks Destination (our SLO URL), version, issue instant and status.
    if not response.verify():
        return refusal("VerificationError", "pysaml2 did not verify the logout response", log)
    request_id = document.get("requestId")
    if request_id is not None and response.in_response_to != request_id:
        return refusal("UnsolicitedResponse", "InResponseTo %r is not the request %r" % (response.in_response_to, request_id), log)
    status = response.response.status
    return {
        "ok": True,
        "issuer": response.issuer(),
        "inResponseTo": response.in_response_to,
        "destination": response.response.destination,
        "status": status.status_code.value if status is not None else None,
        "relayState": query.get("RelayState"),
        "signatureVerified": verified,
        "log": log.lines,
    }


def handle(document):
    """Runs one action; returns its JSON-able result."""
    if not isinstance(document, dict):
        raise HarnessError("the input must be a JSON object")
    action = required(document, "action")
    log = LogCollector()
    root = logging.getLogger()
    root.addHandler(log)
    try:
        with tempfile.TemporaryDirectory(prefix="pysaml2-sp-") as directory:
            client, idp_entity_id = make_client(document, directory)
            if action == "authn-request":
                result = authn_request(document, client, idp_entity_id)
            elif action == "parse-response":
                result = parse_response(document, client, idp_entity_id, log)
            elif action == "logout-request":
                result = logout_request(document, client, idp_entity_id)
            elif action == "parse-logout-response":
                result = parse_logout_response(document, client, idp_entity_id, log)
            else:
                raise HarnessError("unknown action %r" % action)
    finally:
        root.removeHandler(log)
    result["pysaml2Version"] = PYSAML2_VERSION
    return result


def quiet_logging():
    """pysaml2 logs to the root logger; only the per-call collectors listen, stderr stays for harness failures."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)


def serve(output):
    """--serve: one JSON request a line on stdin ({"id", "input"}), one JSON answer a line on stdout
    ({"id", "result"} or {"id", "harnessError"}), until stdin closes. Importing pysaml2 costs about
    a second (it compiles the SAML XML schemas), so the test wrapper keeps one process for many calls."""
    for line in sys.stdin:
        if not line.strip():
            continue
        request_id = None
        try:
            request = json.loads(line)
            request_id = request.get("id")
            answer = {"id": request_id, "result": handle(request.get("input"))}
        except HarnessError as error:
            answer = {"id": request_id, "harnessError": str(error)}
        except Exception:
            answer = {"id": request_id, "harnessError": "unexpected failure\n" + traceback.format_exc()}
        output.write(json.dumps(answer, default=str) + "\n")
        output.flush()


def main():
    quiet_logging()
    # Whatever a library might print goes to stderr: stdout carries only the answers.
    output = sys.stdout
    sys.stdout = sys.stderr
    if sys.argv[1:] == ["--serve"]:
        serve(output)
        return
    if sys.argv[1:]:
        raise HarnessError("usage: pysaml2_sp.py [--serve] < input.json")
    try:
        document = json.load(sys.stdin)
    except ValueError as error:
        raise HarnessError("stdin is not a JSON document: %s" % error)
    json.dump(handle(document), output, default=str)
    output.write("\n")


def pysaml2_version():
    try:
        from importlib.metadata import version

        return version("pysaml2")
    except Exception:
        return None


PYSAML2_VERSION = getattr(saml2, "__version__", None) or pysaml2_version()

if __name__ == "__main__":
    try:
        main()
    except HarnessError as error:
        sys.stderr.write("pysaml2_sp.py: %s\n" % error)
        sys.exit(2)
    except Exception:
        sys.stderr.write("pysaml2_sp.py: unexpected failure\n%s" % traceback.format_exc())
        sys.exit(1)
