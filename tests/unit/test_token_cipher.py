"""TokenCipher: AES-GCM values, older Fernet values still read; values read again are
decrypted once, and nothing remembered weakens a check."""

import base64

import pytest
from cryptography.fernet import Fernet

from specialistly import security
from specialistly.security import TokenCipher, TokenDecryptionError


def cipher(*keys: str) -> TokenCipher:
    return TokenCipher(list(keys) or [Fernet.generate_key().decode()])


def counting(c: TokenCipher) -> list[int]:
    """Count the decryptions `c` makes from here on (in either format)."""
    calls = [0]
    original = c._open

    def _open(*args):  # type: ignore[no-untyped-def]
        calls[0] += 1
        return original(*args)

    c._open = _open  # type: ignore[method-assign]
    return calls


def test_values_are_written_with_aes_gcm_under_the_newest_key_and_read_back() -> None:
    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    c = cipher(new, old)
    stored = c.encrypt("zoom-access-token ✓")
    kid, _, token = stored.partition(":")
    assert kid == c.newest_key_id == security.key_id(new)
    assert base64.urlsafe_b64decode(token)[0] == 0x81
    assert "zoom-access-token" not in stored
    assert c.encrypt("same") != c.encrypt("same")  # a fresh nonce each time
    assert cipher(new).decrypt(stored) == "zoom-access-token ✓"
    assert c.is_current(stored)
    assert not cipher(old, new).is_current(stored)  # another key is newest there


def test_values_written_in_fernets_format_before_still_read() -> None:
    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    legacy = [
        f"{security.key_id(key)}:{Fernet(key.encode()).encrypt(b'refresh-token').decode()}"
        for key in (new, old)
    ]
    c = cipher(new, old)
    assert [c.decrypt(value) for value in legacy] == ["refresh-token"] * 2
    assert c.decrypt(legacy[1], remember=True) == "refresh-token"
    kid, _, token = legacy[0].partition(":")
    with pytest.raises(TokenDecryptionError):
        c.decrypt(f"{kid}:{token[:-4]}AAA=")  # its MAC no longer matches


def test_a_value_relabelled_with_another_keys_id_or_garbled_is_refused() -> None:
    first, second = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    c = cipher(first, second)
    _, _, token = c.encrypt("token").partition(":")
    with pytest.raises(TokenDecryptionError):
        c.decrypt(f"{security.key_id(second)}:{token}")
    for garbage in ("", "not base64!", "gQ==", base64.urlsafe_b64encode(b"\x81" * 20).decode()):
        with pytest.raises(TokenDecryptionError, match="does not decrypt"):
            c.decrypt(f"{c.newest_key_id}:{garbage}")


def test_a_value_read_again_is_decrypted_once_when_asked_to_be_remembered() -> None:
    key = Fernet.generate_key().decode()
    stored = cipher(key).encrypt("access-token-1")
    reader = cipher(key)
    calls = counting(reader)
    assert [reader.decrypt(stored, remember=True) for _ in range(5)] == ["access-token-1"] * 5
    assert calls[0] == 1


def test_values_not_asked_to_be_remembered_are_not_kept() -> None:
    c = cipher()
    calls = counting(c)
    stored = c.encrypt("refresh-token")
    assert [c.decrypt(stored) for _ in range(3)] == ["refresh-token"] * 3
    assert calls[0] == 3
    assert not c._plain


def test_a_value_just_encrypted_to_be_remembered_reads_back_without_decrypting() -> None:
    c = cipher()
    calls = counting(c)
    stored = c.encrypt("manage-token", remember=True)
    assert c.decrypt(stored) == "manage-token"
    assert calls[0] == 0


def test_a_tampered_or_foreign_value_is_still_refused() -> None:
    c = cipher()
    stored = c.encrypt("access-token", remember=True)
    assert c.decrypt(stored, remember=True) == "access-token"
    kid, _, token = stored.partition(":")
    tampered = f"{kid}:{token[:-2]}{'A' if token[-2] != 'A' else 'B'}{token[-1]}"
    with pytest.raises(TokenDecryptionError):
        c.decrypt(tampered, remember=True)
    with pytest.raises(TokenDecryptionError):
        c.decrypt(cipher().encrypt("access-token"), remember=True)  # another key's value


def test_a_cipher_without_the_old_key_cannot_read_what_another_remembered() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    both = cipher(new, old)
    stored = cipher(old).encrypt("token")
    assert both.decrypt(stored, remember=True) == "token"
    with pytest.raises(TokenDecryptionError):
        cipher(new).decrypt(stored, remember=True)


def test_memory_keeps_the_most_recently_used_and_is_bounded() -> None:
    c = cipher()
    hot = c.encrypt("hot", remember=True)
    cold = c.encrypt("cold", remember=True)
    for i in range(TokenCipher.REMEMBERED - 2):
        c.encrypt(str(i), remember=True)
        assert c.decrypt(hot) == "hot"  # used all along
    c.encrypt("one more", remember=True)
    assert len(c._plain) == TokenCipher.REMEMBERED
    calls = counting(c)
    assert c.decrypt(hot) == "hot"
    assert calls[0] == 0
    assert c.decrypt(cold) == "cold"  # the least recently used went out
    assert calls[0] == 1


def test_a_value_kept_longer_than_its_time_is_decrypted_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(security.time, "monotonic", lambda: now[0])
    c = cipher()
    stored = c.encrypt("access-token", remember=True)
    calls = counting(c)
    now[0] += TokenCipher.REMEMBERED_SECONDS - 1
    assert c.decrypt(stored) == "access-token"
    assert calls[0] == 0
    now[0] += 2
    assert c.decrypt(stored) == "access-token"
    assert calls[0] == 1
    assert not c._plain
