"""Password hashing, token encryption with key ids, and masking secrets for display."""

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
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

    Two values are read again and again: a connection's access token, for every booking of
    its hour, and a booking's manage token, for the answer and the emails moments after it
    was made. Encrypted or decrypted with `remember=True`, such a value's plaintext is kept
    in this process's memory (the `REMEMBERED` most recently used; one kept longer than
    `REMEMBERED_SECONDS` is decrypted again), keyed by the exact stored text, so it is
    decrypted (its MAC checked) once: a changed or tampered value is other text and is
    checked afresh.
    """

    REMEMBERED = 1024
    REMEMBERED_SECONDS = 3600.0  # an access token's life: one kept longer is decrypted again

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("TOKEN_ENCRYPTION_KEYS holds no key")
        self._fernets = {key_id(k): Fernet(k.encode()) for k in keys}
        self.newest_key_id = key_id(keys[0])
        self._plain: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()  # the event loop and the SQLite writer thread share it

    def encrypt(self, plaintext: str, *, remember: bool = False) -> str:
        token = self._fernets[self.newest_key_id].encrypt(plaintext.encode()).decode()
        stored = f"{self.newest_key_id}:{token}"
        if remember:
            self._remember(stored, plaintext)
        return stored

    def decrypt(self, stored: str, *, remember: bool = False) -> str:
        plaintext = self._recalled(stored)
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
        if remember:
            self._remember(stored, plaintext)
        return plaintext

    def _recalled(self, stored: str) -> str | None:
        with self._lock:
            kept = self._plain.get(stored)
            if kept is None:
                return None
            if time.monotonic() - kept[1] > self.REMEMBERED_SECONDS:
                del self._plain[stored]
                return None
            self._plain.move_to_end(stored)
            return kept[0]

    def _remember(self, stored: str, plaintext: str) -> None:
        with self._lock:
            self._plain[stored] = (plaintext, time.monotonic())
            self._plain.move_to_end(stored)
            while len(self._plain) > self.REMEMBERED:
                self._plain.popitem(last=False)  # the least recently used

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
