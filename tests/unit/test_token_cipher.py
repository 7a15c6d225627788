"""TokenCipher: values read again are decrypted once, and nothing remembered weakens a check."""

import pytest
from cryptography.fernet import Fernet

from specialistly.security import TokenCipher, TokenDecryptionError


def cipher(*keys: str) -> TokenCipher:
    return TokenCipher(list(keys) or [Fernet.generate_key().decode()])


def counting(c: TokenCipher) -> list[int]:
    """Count the Fernet decryptions `c` makes from here on."""
    calls = [0]
    for fernet in list(c._fernets.values()):
        original = fernet.decrypt

        def decrypt(token: bytes, _original=original) -> bytes:  # type: ignore[no-untyped-def]
            calls[0] += 1
            return _original(token)

        fernet.decrypt = decrypt  # type: ignore[method-assign]
    return calls


def test_a_value_read_again_is_decrypted_once() -> None:
    key = Fernet.generate_key().decode()
    stored = cipher(key).encrypt("access-token-1")
    reader = cipher(key)
    calls = counting(reader)
    assert [reader.decrypt(stored) for _ in range(5)] == ["access-token-1"] * 5
    assert calls[0] == 1


def test_a_value_just_encrypted_reads_back_without_decrypting() -> None:
    c = cipher()
    calls = counting(c)
    stored = c.encrypt("manage-token")
    assert c.decrypt(stored) == "manage-token"
    assert calls[0] == 0


def test_a_tampered_or_foreign_value_is_still_refused() -> None:
    c = cipher()
    stored = c.encrypt("refresh-token")
    assert c.decrypt(stored) == "refresh-token"
    kid, _, token = stored.partition(":")
    tampered = f"{kid}:{token[:-2]}{'A' if token[-2] != 'A' else 'B'}{token[-1]}"
    with pytest.raises(TokenDecryptionError):
        c.decrypt(tampered)
    with pytest.raises(TokenDecryptionError):
        c.decrypt(cipher().encrypt("refresh-token"))  # another key's value


def test_a_cipher_without_the_old_key_cannot_read_what_another_remembered() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    both = cipher(new, old)
    stored = cipher(old).encrypt("token")
    assert both.decrypt(stored) == "token"
    with pytest.raises(TokenDecryptionError):
        cipher(new).decrypt(stored)


def test_memory_is_bounded_and_long_values_are_not_kept() -> None:
    c = cipher()
    first = c.encrypt("0")
    for i in range(1, TokenCipher.REMEMBERED + 10):
        c.encrypt(str(i))
    assert len(c._plain) == TokenCipher.REMEMBERED
    calls = counting(c)
    assert c.decrypt(first) == "0"  # pushed out, so decrypted again
    assert calls[0] == 1
    body = c.encrypt("x" * TokenCipher.REMEMBERED_LENGTH)
    assert body not in c._plain
    assert c.decrypt(body) == "x" * TokenCipher.REMEMBERED_LENGTH
    assert calls[0] == 2
