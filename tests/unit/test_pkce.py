"""PKCE's S256 challenge, made with the standard library alone."""

import secrets

from specialistly.zoom.oauth import s256_challenge


def test_the_s256_challenge_matches_rfc_7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert s256_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_a_challenge_is_unpadded_base64url_of_43_characters() -> None:
    challenge = s256_challenge(secrets.token_urlsafe(64))
    assert len(challenge) == 43
    assert set(challenge) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
