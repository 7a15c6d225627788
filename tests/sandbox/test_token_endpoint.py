"""/oauth/token for authorization codes, refresh and account credentials, strict as Zoom."""

import pytest

from tests.zoomkit import SandboxKit, basic, pkce_pair

INVALID_TOKEN = {"reason": "Invalid Token!", "error": "invalid_grant"}


async def test_a_code_exchange_answers_zooms_token_shape(kit: SandboxKit) -> None:
    answer = await kit.exchange(await kit.code())
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {
        "access_token",
        "token_type",
        "refresh_token",
        "expires_in",
        "scope",
        "api_url",
    }
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3599
    assert body["scope"].split() == list(kit.config.user_app.scopes)
    assert body["api_url"] == "https://zoom.sandbox.test"
    assert answer.headers["cache-control"] == "no-store"


async def test_a_code_works_once(kit: SandboxKit) -> None:
    code = await kit.code()
    assert (await kit.exchange(code)).status_code == 200
    again = await kit.exchange(code)
    assert again.status_code == 400
    assert again.json() == {
        "reason": f"Invalid authorization code {code}",
        "error": "invalid_grant",
    }


async def test_a_code_is_dead_after_five_minutes(kit: SandboxKit) -> None:
    code = await kit.code()
    await kit.advance(301)
    answer = await kit.exchange(code)
    assert answer.status_code == 400
    assert answer.json() == {"reason": "Code is expired", "error": "invalid_grant"}


async def test_a_code_still_works_just_before_five_minutes(kit: SandboxKit) -> None:
    code = await kit.code()
    await kit.advance(290)
    assert (await kit.exchange(code)).status_code == 200


async def test_the_redirect_uri_must_equal_the_one_authorized(kit: SandboxKit) -> None:
    answer = await kit.exchange(await kit.code(), redirect_uri="https://app.example.test/other")
    assert answer.status_code == 400
    assert answer.json()["reason"] == "Redirect URI mismatch."


@pytest.mark.parametrize("method", ["S256", "plain"])
async def test_pkce_needs_the_matching_verifier(kit: SandboxKit, method: str) -> None:
    verifier, challenge = pkce_pair()
    if method == "plain":
        challenge = verifier
    params = {"code_challenge": challenge, "code_challenge_method": method}
    wrong = await kit.exchange(await kit.code(**params), code_verifier=pkce_pair()[0])
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    missing = await kit.exchange(await kit.code(**params))
    assert missing.status_code == 400
    right = await kit.exchange(await kit.code(**params), code_verifier=verifier)
    assert right.status_code == 200


async def test_a_failed_verifier_still_spends_nothing_but_the_right_one_works_once(
    kit: SandboxKit,
) -> None:
    verifier, challenge = pkce_pair()
    code = await kit.code(code_challenge=challenge, code_challenge_method="S256")
    assert (await kit.exchange(code, code_verifier="x" * 43)).status_code == 400
    assert (await kit.exchange(code, code_verifier=verifier)).status_code == 200
    assert (await kit.exchange(code, code_verifier=verifier)).status_code == 400


async def test_client_credentials_work_in_the_form_body_too(kit: SandboxKit) -> None:
    app = kit.config.user_app
    answer = await kit.http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": await kit.code(),
            "redirect_uri": kit.redirect_uri,
            "client_id": app.client_id,
            "client_secret": app.client_secret,
        },
    )
    assert answer.status_code == 200


INVALID_CLIENT = {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/oauth/token", {"grant_type": "authorization_code", "code": "c", "redirect_uri": "r"}),
        ("/oauth/token", {"grant_type": "refresh_token", "refresh_token": "r"}),
        ("/oauth/token", {"grant_type": "account_credentials", "account_id": "a"}),
        ("/oauth/revoke", {"token": "t"}),
    ],
)
@pytest.mark.parametrize("who", ["wrong secret", "unknown client"])
async def test_wrong_client_credentials_get_zooms_400_invalid_client_everywhere(
    kit: SandboxKit, path: str, form: dict[str, str], who: str
) -> None:
    """Zoom answers 400, not 401, to wrong client credentials (ZOOM.md), on every grant."""
    tokens = await kit.connect()
    form = {k: tokens["refresh_token"] if k == "refresh_token" else v for k, v in form.items()}
    client_id = kit.config.user_app.client_id if who == "wrong secret" else "nobody"
    answer = await kit.http.post(path, data=form, headers=basic(client_id, "wrong"))
    assert answer.status_code == 400
    assert answer.json() == INVALID_CLIENT


async def test_missing_credentials_and_grant_type_are_named(kit: SandboxKit) -> None:
    no_client = await kit.http.post("/oauth/token", data={"grant_type": "refresh_token"})
    assert no_client.json()["reason"] == "Client ID or client secret is missing"
    no_grant = await kit.http.post("/oauth/token", data={}, headers=kit.user_auth())
    assert no_grant.json() == {"reason": "Missing grant type", "error": "invalid_request"}
    odd = await kit.http.post(
        "/oauth/token", data={"grant_type": "password"}, headers=kit.user_auth()
    )
    assert odd.json()["error"] == "unsupported_grant_type"


async def test_token_values_in_the_query_string_are_refused(kit: SandboxKit) -> None:
    tokens = await kit.connect()
    answer = await kit.http.post(
        "/oauth/token",
        params={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers=kit.user_auth(),
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


async def test_refresh_rotates_and_the_previous_refresh_token_dies_at_once(
    kit: SandboxKit,
) -> None:
    first = await kit.connect()
    second = (await kit.refresh(first["refresh_token"])).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["expires_in"] == 3599
    reused = await kit.refresh(first["refresh_token"])
    assert reused.status_code == 400
    assert reused.json() == INVALID_TOKEN
    # The reuse burned nothing: the newest refresh token still works.
    assert (await kit.refresh(second["refresh_token"])).status_code == 200


async def test_a_refresh_sent_with_the_s2s_apps_credentials_is_rejected(kit: SandboxKit) -> None:
    """The old system's bug: refreshing a user's token with the platform's S2S credentials."""
    tokens = await kit.connect()
    answer = await kit.refresh(tokens["refresh_token"], auth=kit.s2s_auth())
    assert answer.status_code == 400
    assert answer.json() == INVALID_TOKEN
    stats = await kit.control("GET", "/stats")
    assert kit.config.s2s_app is not None
    assert stats["refresh_requests_by_client"] == {kit.config.s2s_app.client_id: 1}
    assert stats["token_requests"]["refresh_token"] == {"invalid_grant": 1}


async def test_the_earlier_access_token_keeps_working_until_it_expires(kit: SandboxKit) -> None:
    first = await kit.connect()
    await kit.refresh(first["refresh_token"])
    assert (await kit.api("GET", "/users/me", first["access_token"])).status_code == 200
    await kit.advance(3600)
    expired = await kit.api("GET", "/users/me", first["access_token"])
    assert expired.status_code == 401
    assert expired.json() == {"code": 124, "message": "Access token is expired."}


async def test_a_refresh_token_dies_after_its_lifetime_unless_used(kit: SandboxKit) -> None:
    kept = await kit.connect("kept@example.com")
    idle = await kit.connect("idle@example.com")
    for _ in range(9):  # 90 days in steps of 10, refreshing only one of them
        await kit.advance(10 * 86_400 - 1)
        kept = (await kit.refresh(kept["refresh_token"])).json()
    await kit.advance(10)
    assert (await kit.refresh(idle["refresh_token"])).json() == INVALID_TOKEN
    assert (await kit.refresh(kept["refresh_token"])).status_code == 200


async def test_authorizing_again_ends_the_earlier_tokens(kit: SandboxKit) -> None:
    first = await kit.connect()
    second = await kit.connect()
    assert (await kit.refresh(first["refresh_token"])).json() == INVALID_TOKEN
    old_api = await kit.api("GET", "/users/me", first["access_token"])
    assert old_api.json() == {"code": 124, "message": "Invalid access token."}
    assert (await kit.api("GET", "/users/me", second["access_token"])).status_code == 200


async def test_account_credentials_give_the_s2s_app_a_token_without_refresh(
    kit: SandboxKit,
) -> None:
    assert kit.config.s2s_app is not None
    account = kit.config.s2s_app.account_id or ""
    data = {"grant_type": "account_credentials", "account_id": account}
    answer = await kit.http.post("/oauth/token", data=data, headers=kit.s2s_auth())
    body = answer.json()
    assert answer.status_code == 200
    assert body["expires_in"] == 3600
    assert "refresh_token" not in body
    me = await kit.api("GET", "/users/me", body["access_token"])
    assert me.json()["account_id"] == account
    wrong = await kit.http.post(
        "/oauth/token", data={**data, "account_id": "other"}, headers=kit.s2s_auth()
    )
    assert wrong.status_code == 400
    user_app = await kit.http.post("/oauth/token", data=data, headers=kit.user_auth())
    assert user_app.json()["error"] == "unsupported_grant_type"


async def test_the_s2s_app_cannot_exchange_a_users_code(kit: SandboxKit) -> None:
    code = await kit.code()
    answer = await kit.http.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": kit.redirect_uri},
        headers=kit.s2s_auth(),
    )
    assert answer.json()["error"] == "invalid_grant"


async def test_stats_count_token_requests_by_grant_and_outcome(kit: SandboxKit) -> None:
    tokens = await kit.connect()
    await kit.refresh(tokens["refresh_token"])
    await kit.refresh(tokens["refresh_token"])
    stats = await kit.control("GET", "/stats")
    assert stats["token_requests"]["authorization_code"] == {"ok": 1}
    assert stats["token_requests"]["refresh_token"] == {"ok": 1, "invalid_grant": 1}
    assert stats["refresh_requests_by_client"] == {kit.config.user_app.client_id: 2}


async def test_revoke_ends_the_grant(kit: SandboxKit) -> None:
    tokens = await kit.connect()
    answer = await kit.http.post(
        "/oauth/revoke", data={"token": tokens["access_token"]}, headers=kit.user_auth()
    )
    assert answer.json() == {"status": "success"}
    assert (await kit.refresh(tokens["refresh_token"])).json() == INVALID_TOKEN
    again = await kit.http.post(
        "/oauth/revoke", data={"token": tokens["access_token"]}, headers=kit.user_auth()
    )
    assert again.status_code == 400


async def test_a_token_fault_can_answer_with_a_non_json_xml_body(kit: SandboxKit) -> None:
    await kit.control("PUT", "/faults", json={"token": {"error_rate": 1, "body": "xml"}})
    answer = await kit.refresh("anything")
    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith("text/xml")
    with pytest.raises(ValueError, match="Expecting value"):
        answer.json()
    assert "<code>500</code>" in answer.text
