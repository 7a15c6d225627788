"""The consent page and authorization codes, as Zoom's /oauth/authorize behaves."""

import httpx

from tests.zoomkit import SandboxKit, pkce_pair


async def test_the_consent_page_names_the_app_and_offers_approve_and_deny(kit: SandboxKit) -> None:
    page = await kit.http.get("/oauth/authorize", params=kit.authorize_params())
    assert page.status_code == 200
    assert kit.config.user_app.client_id in page.text
    assert 'value="approve"' in page.text
    assert 'value="deny"' in page.text
    assert "meeting:write:meeting" in page.text


async def test_an_unregistered_redirect_url_gets_zooms_4700_answer(kit: SandboxKit) -> None:
    params = kit.authorize_params(redirect_uri="https://evil.example/callback")
    for answer in (
        await kit.http.get("/oauth/authorize", params=params),
        await kit.http.post("/oauth/authorize", params=params, data={"action": "approve"}),
    ):
        assert answer.json() == {
            "status": False,
            "errorCode": 4700,
            "errorMessage": "Invalid redirect url",
            "result": None,
        }


async def test_an_unknown_client_and_the_s2s_app_cannot_ask_for_consent(kit: SandboxKit) -> None:
    assert kit.config.s2s_app is not None
    for client_id in ("nobody", kit.config.s2s_app.client_id):
        answer = await kit.http.get(
            "/oauth/authorize", params=kit.authorize_params(client_id=client_id)
        )
        assert answer.status_code == 400
        assert answer.json()["errorMessage"] == "Invalid client_id"


async def test_approving_redirects_with_a_code_and_the_state_passed_through(
    kit: SandboxKit,
) -> None:
    answer = await kit.http.post(
        "/oauth/authorize",
        params=kit.authorize_params(state="opaque/+state=="),
        data={"email": "Ana@Example.com", "action": "approve"},
    )
    assert answer.status_code == 302
    location = httpx.URL(answer.headers["location"])
    assert str(location).startswith(kit.redirect_uri + "?")
    assert location.params["state"] == "opaque/+state=="
    assert len(location.params["code"]) >= 20
    tokens = await kit.control("GET", "/users/ana@example.com/tokens")
    assert tokens["access_tokens"] == []  # a code is not a token yet


async def test_denying_redirects_with_access_denied_and_the_state(kit: SandboxKit) -> None:
    answer = await kit.http.post(
        "/oauth/authorize", params=kit.authorize_params(), data={"action": "deny"}
    )
    assert answer.status_code == 302
    params = httpx.URL(answer.headers["location"]).params
    assert params["error"] == "access_denied"
    assert params["state"] == "state-123"
    assert "code" not in params


async def test_approving_without_an_email_shows_the_page_again_with_the_error(
    kit: SandboxKit,
) -> None:
    answer = await kit.http.post(
        "/oauth/authorize",
        params=kit.authorize_params(),
        data={"email": "nope", "action": "approve"},
    )
    assert answer.status_code == 400
    assert 'role="alert"' in answer.text


async def test_an_unknown_challenge_method_is_refused_at_the_redirect_uri(kit: SandboxKit) -> None:
    _, challenge = pkce_pair()
    params = kit.authorize_params(code_challenge=challenge, code_challenge_method="S512")
    answer = await kit.http.get("/oauth/authorize", params=params)
    assert answer.status_code == 302
    assert httpx.URL(answer.headers["location"]).params["error"] == "invalid_request"


async def test_only_response_type_code_is_supported(kit: SandboxKit) -> None:
    answer = await kit.http.get(
        "/oauth/authorize", params=kit.authorize_params(response_type="token")
    )
    assert httpx.URL(answer.headers["location"]).params["error"] == "unsupported_response_type"
