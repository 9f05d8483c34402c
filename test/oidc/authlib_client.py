"""
Authlib (Debian's python3-authlib) as an OAuth 2.0 / OpenID Connect client of Portico, for
test/oidc/authlib.interop.test.ts. One JSON document in on stdin (secrets stay off the command
line), one out on stdout. Steps:

  client_credentials  {issuer, clientId, clientSecret}
  authorize           {issuer, clientId, clientSecret, redirectUri}       -> {url, state, verifier}
  exchange            {issuer, clientId, clientSecret, redirectUri, callback, state, verifier}
"""
import json
import sys

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.common.security import generate_token


def discover(issuer):
    response = requests.get(issuer + "/.well-known/openid-configuration", timeout=10)
    response.raise_for_status()
    return response.json()


def session(request, **extra):
    return OAuth2Session(
        request["clientId"],
        request["clientSecret"],
        token_endpoint_auth_method="client_secret_basic",
        **extra,
    )


def client_credentials(request):
    meta = discover(request["issuer"])
    client = session(request)
    token = client.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
    introspected = client.introspect_token(meta["introspection_endpoint"], token=token["access_token"]).json()
    return {"token_type": token["token_type"], "expires_in": token["expires_in"], "has_access_token": bool(token.get("access_token")), "introspection": introspected}


def authorize(request):
    meta = discover(request["issuer"])
    verifier = generate_token(48)
    client = session(request, redirect_uri=request["redirectUri"], scope="openid profile email groups", code_challenge_method="S256")
    url, state = client.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier)
    return {"url": url, "state": state, "verifier": verifier}


def exchange(request):
    meta = discover(request["issuer"])
    client = session(request, redirect_uri=request["redirectUri"], state=request["state"], code_challenge_method="S256")
    token = client.fetch_token(meta["token_endpoint"], authorization_response=request["callback"], code_verifier=request["verifier"])
    jwks = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
    claims = jwt.decode(token["id_token"], jwks, claims_options={"iss": {"essential": True, "value": request["issuer"]}, "aud": {"essential": True, "value": request["clientId"]}})
    claims.validate()
    userinfo = client.get(meta["userinfo_endpoint"]).json()
    header = json.loads(__import__("base64").urlsafe_b64decode(token["id_token"].split(".")[0] + "==="))
    return {"id_token_alg": header["alg"], "claims": dict(claims), "userinfo": userinfo, "has_refresh_token": bool(token.get("refresh_token"))}


STEPS = {"client_credentials": client_credentials, "authorize": authorize, "exchange": exchange}

if __name__ == "__main__":
    request = json.load(sys.stdin)
    try:
        print(json.dumps({"ok": True, "result": STEPS[request["step"]](request)}))
    except Exception as error:  # reported to the test, which fails with it
        print(json.dumps({"ok": False, "error": f"{type(error).__name__}: {error}"}))
