"""Just enough JWT (RFC 7519, HS256) to inspect Parley's tokens and to forge bad ones in tests."""
import base64
import hashlib
import hmac
import json
import secrets
import time


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def decode(token: str):
    """(header, claims) without verifying anything."""
    header, claims, _ = token.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(claims))


def sign(claims: dict, key: bytes, header=None) -> str:
    """An HS256 token over `claims` (header defaults to {"alg": "HS256", "typ": "JWT"})."""
    header = header or {"alg": "HS256", "typ": "JWT"}
    signing_input = (b64url_encode(json.dumps(header, separators=(",", ":")).encode()) + "." +
                     b64url_encode(json.dumps(claims, separators=(",", ":")).encode()))
    sig = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + b64url_encode(sig)


def unsigned(claims: dict) -> str:
    """An `alg: none` token with an empty signature."""
    header = {"alg": "none", "typ": "JWT"}
    return (b64url_encode(json.dumps(header).encode()) + "." +
            b64url_encode(json.dumps(claims).encode()) + ".")


def signature_ok(token: str, key: bytes) -> bool:
    signing_input, _, sig = token.rpartition(".")
    expected = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return hmac.compare_digest(expected, b64url_decode(sig))


def tamper_signature(token: str) -> str:
    """The same token with a different (wrong) signature of the same length."""
    signing_input, _, sig = token.rpartition(".")
    raw = bytearray(b64url_decode(sig))
    raw[0] ^= 0xFF
    return signing_input + "." + b64url_encode(bytes(raw))


def claims_for(user_id, token_type="access", lifetime_s=3600, **extra) -> dict:
    now = int(time.time())
    claims = {"token_type": token_type, "exp": now + lifetime_s, "iat": now,
              "jti": secrets.token_hex(16), "user_id": user_id}
    claims.update(extra)
    return claims
