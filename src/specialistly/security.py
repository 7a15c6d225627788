"""Password hashing, token encryption with key ids, and masking secrets for display."""

import base64
import binascii
import hashlib
import os
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

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


# A value's first byte says how it was sealed: Fernet's version byte, or ours for AES-GCM.
_FERNET = 0x80
_GCM = 0x81
_NONCE = 12


@dataclass(frozen=True)
class _Key:
    fernet: Fernet  # reads values written before AES-GCM (and never writes)
    gcm: AESGCM


def _key(fernet_key: str) -> _Key:
    """A configured key (a Fernet key, as TOKEN_ENCRYPTION_KEYS holds) and the AES-256-GCM
    key derived from it with HKDF, so one configured secret serves both formats."""
    derived = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=b"specialistly token cipher: AES-256-GCM",
    ).derive(base64.urlsafe_b64decode(fernet_key))
    return _Key(Fernet(fernet_key.encode()), AESGCM(derived))


class TokenCipher:
    """Encrypt with the newest key; decrypt with whichever key's id tags the value.

    A value is `<key id>:<base64url>`: AES-256-GCM under a key derived from the configured
    Fernet key, a random 96-bit nonce, the key id bound as associated data. Values written
    before (Fernet's format: AES-128-CBC with HMAC-SHA256) still read; `specialistly keys
    rotate` rewrites them. AES-GCM because a booking seals six values (its manage token, the
    host's start link, two emails' bodies and invitations), and Fernet's construction cost
    about 5 % of a booking's instructions (bench/README.md, round 12: −4.9 %).

    Two values are read again and again: a connection's access token, for every booking of
    its hour, and a booking's manage token, for the answer and the emails moments after it
    was made. Encrypted or decrypted with `remember=True`, such a value's plaintext is kept
    in this process's memory (the `REMEMBERED` most recently used; one kept longer than
    `REMEMBERED_SECONDS` is decrypted again), keyed by the exact stored text, so it is
    decrypted (its tag checked) once: a changed or tampered value is other text and is
    checked afresh.
    """

    REMEMBERED = 1024
    REMEMBERED_SECONDS = 3600.0  # an access token's life: one kept longer is decrypted again

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("TOKEN_ENCRYPTION_KEYS holds no key")
        self._keys = {key_id(k): _key(k) for k in keys}
        self.newest_key_id = key_id(keys[0])
        self._newest = self._keys[self.newest_key_id].gcm
        self._newest_aad = self.newest_key_id.encode()
        self._plain: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()  # the event loop and the SQLite writer thread share it

    def encrypt(self, plaintext: str, *, remember: bool = False) -> str:
        nonce = os.urandom(_NONCE)
        sealed = self._newest.encrypt(nonce, plaintext.encode(), self._newest_aad)
        token = base64.urlsafe_b64encode(bytes((_GCM,)) + nonce + sealed).decode()
        stored = f"{self.newest_key_id}:{token}"
        if remember:
            self._remember(stored, plaintext)
        return stored

    def decrypt(self, stored: str, *, remember: bool = False) -> str:
        plaintext = self._recalled(stored)
        if plaintext is not None:
            return plaintext
        kid, _, token = stored.partition(":")
        key = self._keys.get(kid)
        if key is None:
            raise TokenDecryptionError(f"no encryption key with id {kid}")
        plaintext = self._open(kid, key, token)
        if remember:
            self._remember(stored, plaintext)
        return plaintext

    def _open(self, kid: str, key: _Key, token: str) -> str:
        """Check and decrypt one value, in whichever of the two formats it was written."""
        try:
            raw = base64.urlsafe_b64decode(token)
            if raw[:1] == bytes((_GCM,)):
                nonce, sealed = raw[1 : 1 + _NONCE], raw[1 + _NONCE :]
                return key.gcm.decrypt(nonce, sealed, kid.encode()).decode()
            if raw[:1] == bytes((_FERNET,)):
                return key.fernet.decrypt(token.encode()).decode()
        except (binascii.Error, ValueError, InvalidTag, InvalidToken):
            pass  # not base64, too short, or its tag or MAC does not match
        raise TokenDecryptionError(f"value under key {kid} does not decrypt")

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

    def is_current(self, stored: str) -> bool:
        """Whether the value is written as `encrypt` writes now: the newest key, AES-GCM."""
        kid, _, token = stored.partition(":")
        try:
            return kid == self.newest_key_id and base64.urlsafe_b64decode(token[:4])[0] == _GCM
        except (binascii.Error, IndexError):
            return False


def mask(secret: str | None) -> str:
    """Show enough of a secret to recognise it, never enough to use it."""
    if not secret:
        return "(not set)"
    if len(secret) <= 8:
        return "*" * len(secret)
    return f"{secret[:3]}…{secret[-2:]} ({len(secret)} chars)"
