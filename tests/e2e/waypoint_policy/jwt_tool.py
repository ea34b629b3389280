#!/usr/bin/env python3
"""RS256 test tokens for tests/e2e/test_waypoint_policy.sh, signed with the openssl CLI (a key
made for the run; nothing is committed).

  jwt_tool.py jwks KEY.pem KID                 the public key as a JWKS (JSON)
  jwt_tool.py token KEY.pem KID CLAIMS_JSON    a compact JWS over CLAIMS (exp added: +1 h)
"""
import base64
import json
import subprocess
import sys
import time


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwks(key, kid):
    out = subprocess.run(["openssl", "rsa", "-in", key, "-noout", "-modulus"], check=True,
                         capture_output=True, text=True).stdout
    n = bytes.fromhex(out.strip().split("=", 1)[1])
    jwk = {"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "n": b64url(n),
           "e": b64url((65537).to_bytes(3, "big"))}
    return json.dumps({"keys": [jwk]})


def token(key, kid, claims):
    claims = dict(claims)
    claims.setdefault("exp", int(time.time()) + 3600)
    header = {"alg": "RS256", "typ": "JWT", "kid": kid}
    signing_input = (b64url(json.dumps(header).encode()) + "." +
                     b64url(json.dumps(claims).encode())).encode()
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=signing_input,
                         check=True, capture_output=True).stdout
    return signing_input.decode() + "." + b64url(sig)


def main(argv):
    if len(argv) == 3 and argv[0] == "jwks":
        print(jwks(argv[1], argv[2]))
        return 0
    if len(argv) == 4 and argv[0] == "token":
        print(token(argv[1], argv[2], json.loads(argv[3])))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
