"""Zoom's webhook signatures (v0) and the URL validation answer."""

import hashlib
import hmac


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    message = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_valid(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """Compare in constant time; any malformed input is simply invalid."""
    return hmac.compare_digest(
        expected_signature(secret, timestamp, body).encode(), signature.encode()
    )


def url_validation_answer(secret: str, plain_token: str) -> dict[str, str]:
    encrypted = hmac.new(secret.encode(), plain_token.encode(), hashlib.sha256).hexdigest()
    return {"plainToken": plain_token, "encryptedToken": encrypted}
