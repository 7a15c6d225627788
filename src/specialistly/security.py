"""Password hashing, token encryption with key ids, and masking secrets for display."""

import hashlib
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verifying against this keeps a login for an unknown email as slow as one for a known
    email. Made on first use: an argon2 hash costs every process that imports this ~0.2 s."""
    return _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password against its argon2 hash in constant time; unknown users cost the same."""
    try:
        return (
            _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
        )
    except (VerificationError, InvalidHashError):
        return False


def digest(value: str) -> str:
    """Return a SHA-256 hex digest, for looking up secrets by value without storing them."""
    return hashlib.sha256(value.encode()).hexdigest()


def key_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:8]


class TokenDecryptionError(Exception):
    """A stored token cannot be read: its key is gone or the value was tampered with."""


class TokenCipher:
    """Encrypt with the newest key; decrypt with whichever key's id tags the value."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("TOKEN_ENCRYPTION_KEYS holds no key")
        self._fernets = {key_id(k): Fernet(k.encode()) for k in keys}
        self.newest_key_id = key_id(keys[0])

    def encrypt(self, plaintext: str) -> str:
        token = self._fernets[self.newest_key_id].encrypt(plaintext.encode()).decode()
        return f"{self.newest_key_id}:{token}"

    def decrypt(self, stored: str) -> str:
        kid, _, token = stored.partition(":")
        fernet = self._fernets.get(kid)
        if fernet is None:
            raise TokenDecryptionError(f"no encryption key with id {kid}")
        try:
            return fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise TokenDecryptionError(f"value under key {kid} does not decrypt") from None

    @staticmethod
    def key_id_of(stored: str) -> str:
        return stored.partition(":")[0]


def mask(secret: str | None) -> str:
    """Show enough of a secret to recognise it, never enough to use it."""
    if not secret:
        return "(not set)"
    if len(secret) <= 8:
        return "*" * len(secret)
    return f"{secret[:3]}…{secret[-2:]} ({len(secret)} chars)"
