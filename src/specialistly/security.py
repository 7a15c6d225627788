"""Password hashing, token encryption with key ids, and masking secrets for display."""

import hashlib
import secrets
import threading
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
    """Encrypt with the newest key; decrypt with whichever key's id tags the value.

    Short values (tokens, links) are read again and again: a connection's access token for
    every booking of the hour, a booking's manage token for its response and its emails. Each
    cipher remembers the plaintext of the last `REMEMBERED` such values it encrypted or
    decrypted, keyed by the exact stored text, so each is decrypted (its MAC checked) once per
    process: a value changed in the database is other text and is checked afresh.
    """

    REMEMBERED = 1024
    REMEMBERED_LENGTH = 4096  # stored characters; email bodies and attachments are not kept

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("TOKEN_ENCRYPTION_KEYS holds no key")
        self._fernets = {key_id(k): Fernet(k.encode()) for k in keys}
        self.newest_key_id = key_id(keys[0])
        self._plain: dict[str, str] = {}
        self._lock = threading.Lock()

    def encrypt(self, plaintext: str) -> str:
        token = self._fernets[self.newest_key_id].encrypt(plaintext.encode()).decode()
        stored = f"{self.newest_key_id}:{token}"
        self._remember(stored, plaintext)
        return stored

    def decrypt(self, stored: str) -> str:
        plaintext = self._plain.get(stored)
        if plaintext is not None:
            return plaintext
        kid, _, token = stored.partition(":")
        fernet = self._fernets.get(kid)
        if fernet is None:
            raise TokenDecryptionError(f"no encryption key with id {kid}")
        try:
            plaintext = fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise TokenDecryptionError(f"value under key {kid} does not decrypt") from None
        self._remember(stored, plaintext)
        return plaintext

    def _remember(self, stored: str, plaintext: str) -> None:
        if len(stored) > self.REMEMBERED_LENGTH:
            return
        with self._lock:  # the event loop and the SQLite writer thread both use the cipher
            if len(self._plain) >= self.REMEMBERED:
                del self._plain[next(iter(self._plain))]  # oldest first: dicts keep order
            self._plain[stored] = plaintext

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
