"""`specialistly zoom-sandbox --port N` over real sockets: a lost response drops the socket."""

import secrets
from pathlib import Path

import httpx
import pytest

from tests.servers import BIN, ROOT, clean_env, free_port, http_client, serving
from tests.zoomkit import basic, pkce_pair

REDIRECT = "https://app.example.test/api/zoom/oauth/user-callback"


@pytest.fixture
def sandbox_env(tmp_path: Path) -> dict[str, str]:
    return clean_env(
        ZOOM_USER_MANAGED_CLIENT_ID="um_" + secrets.token_hex(6),
        ZOOM_USER_MANAGED_CLIENT_SECRET=secrets.token_urlsafe(20),
        ZOOM_CLIENT_ID="s2s_" + secrets.token_hex(6),
        ZOOM_CLIENT_SECRET=secrets.token_urlsafe(20),
        ZOOM_ACCOUNT_ID="acct_served",
        ZOOM_REDIRECT_URI=REDIRECT,
        ZOOM_WEBHOOK_SECRET_TOKEN=secrets.token_urlsafe(16),
        VAR_DIR=str(tmp_path / "var"),
    )


def test_the_standalone_sandbox_drops_the_connection_on_a_lost_refresh(
    sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [str(BIN / "specialistly"), "zoom-sandbox", "--port", str(port)]
    log = tmp_path / "sandbox.log"
    with serving(args, env=sandbox_env, ready_url=base + "/", cwd=ROOT, log=log):
        auth = basic(
            sandbox_env["ZOOM_USER_MANAGED_CLIENT_ID"],
            sandbox_env["ZOOM_USER_MANAGED_CLIENT_SECRET"],
        )
        verifier, challenge = pkce_pair()
        params = {
            "response_type": "code",
            "client_id": sandbox_env["ZOOM_USER_MANAGED_CLIENT_ID"],
            "redirect_uri": REDIRECT,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        with http_client(base_url=base) as zoom:
            consent = zoom.post(
                "/oauth/authorize",
                params=params,
                data={"email": "wire@example.com", "action": "approve"},
            )
            code = httpx.URL(consent.headers["location"]).params["code"]
            tokens = zoom.post(
                "/oauth/token",
                headers=auth,
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": REDIRECT,
                    "code_verifier": verifier,
                },
            ).json()

            zoom.put("/_control/faults", json={"token": {"lose_response_rate": 1}})
            with pytest.raises(httpx.RemoteProtocolError, match="without sending"):
                zoom.post(
                    "/oauth/token",
                    headers=auth,
                    data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                )
            zoom.delete("/_control/faults")

            # The refresh happened although nobody heard the answer: the old token is dead.
            again = zoom.post(
                "/oauth/token",
                headers=auth,
                data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            )
            assert again.json() == {"reason": "Invalid Token!", "error": "invalid_grant"}
            current = zoom.get("/_control/users/wire@example.com/tokens").json()
            assert current["refresh_token"]["refresh_token"] != tokens["refresh_token"]
            assert zoom.get("/_control/stats").json()["faults"] == {"response_lost": 1}
    output = log.read_text()
    assert "Exception in ASGI application" not in output
    assert "without starting response" not in output
    assert sandbox_env["ZOOM_USER_MANAGED_CLIENT_SECRET"] not in output
    assert tokens["refresh_token"] not in output
