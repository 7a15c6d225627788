"""Zoom's Users and Meetings API under /v2: shapes, validation, paging, ownership and limits."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from openapi_schema_validator import OAS30Validator

from tests.conftest import make_sandbox_config
from tests.zoomkit import SandboxKit
from zoom_sandbox import SandboxTransport, create_sandbox_app

ZOOM_OPENAPI = Path(__file__).resolve().parents[1] / "data" / "zoom-openapi.yaml"


@cache
def _components() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(ZOOM_OPENAPI.read_text())
    return spec["components"]


def schema_errors(name: str, instance: Any) -> list[str]:
    """Validate `instance` against a schema of Zoom's OpenAPI document; answer the problems."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": _components()}
    validator = OAS30Validator(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)]


@asynccontextmanager
async def own_kit(**changes: object) -> AsyncIterator[SandboxKit]:
    """A sandbox built from `make_sandbox_config(**changes)`, as the `kit` fixture builds one."""
    config = make_sandbox_config(**changes)
    app = create_sandbox_app(config)
    async with httpx.AsyncClient(
        transport=SandboxTransport(app), base_url="https://zoom.sandbox.test"
    ) as client:
        yield SandboxKit(app=app, config=config, http=client)


async def access_token(kit: SandboxKit, email: str = "host@example.com") -> str:
    token: str = (await kit.connect(email))["access_token"]
    return token


async def create(kit: SandboxKit, token: str, **body: Any) -> httpx.Response:
    return await kit.api("POST", "/users/me/meetings", token, json=body)


async def sandbox_now(kit: SandboxKit) -> datetime:
    return datetime.fromisoformat((await kit.control("GET", "/clock"))["now"])


def zulu(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_users_me_answers_the_signed_in_zoom_user(kit: SandboxKit) -> None:
    token = await access_token(kit, "Ada.Lovelace@Example.com")
    answer = await kit.api("GET", "/users/me", token)
    assert answer.status_code == 200
    user = answer.json()
    assert {
        "id",
        "email",
        "first_name",
        "last_name",
        "display_name",
        "account_id",
        "type",
        "timezone",
        "pmi",
    } <= set(user)
    assert user["email"] == "ada.lovelace@example.com"
    assert kit.config.s2s_app is not None
    assert user["account_id"] == kit.config.s2s_app.account_id
    assert isinstance(user["id"], str)
    assert user["id"]
    assert isinstance(user["pmi"], int)
    control = await kit.control("GET", "/users/ada.lovelace@example.com/tokens")
    assert control["user_id"] == user["id"]


async def test_creating_a_meeting_answers_201_in_zooms_create_meeting_shape(
    kit: SandboxKit,
) -> None:
    token = await access_token(kit)
    bodies = [
        {},
        {"topic": "Intro call", "type": 2, "start_time": "2027-03-01T10:00:00Z", "duration": 45},
        {
            "topic": "Consultation",
            "type": 2,
            "start_time": "2027-03-02T09:30:00",
            "timezone": "Europe/Berlin",
            "duration": 30,
            "agenda": "Talk it through",
            "password": "abc@-_*9",
            "settings": {"waiting_room": False, "join_before_host": True},
        },
    ]
    for body in bodies:
        answer = await create(kit, token, **body)
        assert answer.status_code == 201, answer.text
        meeting = answer.json()
        assert schema_errors("CreateMeetingResponse", meeting) == []
        assert isinstance(meeting["id"], int)
        assert meeting["id"] > 9_999_999_999
        assert meeting["status"] == "waiting"
        assert meeting["host_email"] == "host@example.com"
        assert "zak=" in meeting["start_url"]
    assert answer.json()["password"] == "abc@-_*9"
    assert answer.json()["settings"]["join_before_host"] is True


def test_the_schema_check_rejects_a_body_that_breaks_zooms_shape() -> None:
    assert schema_errors("CreateMeetingResponse", {"id": "not-a-number", "duration": "long"})


async def test_a_utc_start_time_with_z_is_kept(kit: SandboxKit) -> None:
    token = await access_token(kit)
    answer = await create(kit, token, start_time="2027-01-15T09:00:00Z", timezone="Asia/Tokyo")
    assert answer.status_code == 201
    assert answer.json()["start_time"] == "2027-01-15T09:00:00Z"
    assert answer.json()["timezone"] == "Asia/Tokyo"


@pytest.mark.parametrize(
    ("local", "utc"),
    [
        ("2027-01-15T09:00:00", "2027-01-15T14:00:00Z"),
        ("2027-07-15T09:00:00", "2027-07-15T13:00:00Z"),
    ],
)
async def test_a_local_start_time_is_read_in_the_meetings_timezone(
    kit: SandboxKit, local: str, utc: str
) -> None:
    token = await access_token(kit)
    answer = await create(kit, token, start_time=local, timezone="America/New_York")
    assert answer.status_code == 201
    assert answer.json()["start_time"] == utc
    fetched = await kit.api("GET", f"/meetings/{answer.json()['id']}", token)
    assert fetched.json()["start_time"] == utc


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": "elevenchars"}, "password"),
        ({"password": "has space"}, "password"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"start_time": "2027-01-15T09:00:00+02:00"}, "start_time"),
        ({"start_time": "15/01/2027 09:00"}, "start_time"),
    ],
)
async def test_an_invalid_field_answers_400_code_300_naming_the_field(
    kit: SandboxKit, body: dict[str, Any], field: str
) -> None:
    token = await access_token(kit)
    answer = await create(kit, token, topic="Bad", **body)
    assert answer.status_code == 400
    error = answer.json()
    assert error["code"] == 300
    assert error["message"] == "Validation Failed."
    assert [e["field"] for e in error["errors"]] == [field]
    assert (await kit.control("GET", "/stats"))["meetings"]["created"] == 0


@pytest.mark.parametrize("raw", [b"topic=not json", b"{broken", b"[1, 2]"])
async def test_a_body_that_is_not_a_json_object_answers_400_code_300(
    kit: SandboxKit, raw: bytes
) -> None:
    token = await access_token(kit)
    answer = await kit.api("POST", "/users/me/meetings", token, content=raw)
    assert answer.status_code == 400
    error = answer.json()
    assert error["code"] == 300
    assert [e["field"] for e in error["errors"]] == ["body"]
    assert (await kit.control("GET", "/stats"))["meetings"]["created"] == 0


async def test_upcoming_meetings_come_in_pages_that_each_show_every_meeting_once(
    kit: SandboxKit,
) -> None:
    token = await access_token(kit)
    start = await sandbox_now(kit) + timedelta(days=1)
    created = set()
    for day in range(5):
        answer = await create(kit, token, start_time=zulu(start + timedelta(days=day)))
        created.add(answer.json()["id"])

    seen: list[int] = []
    pages, page_token = 0, ""
    while True:
        params = {"type": "upcoming", "page_size": 2, "next_page_token": page_token}
        answer = await kit.api("GET", "/users/me/meetings", token, params=params)
        assert answer.status_code == 200
        listing = answer.json()
        assert schema_errors("ListMeetingsResponse", listing) == []
        assert listing["total_records"] == 5
        assert len(listing["meetings"]) <= 2
        seen += [m["id"] for m in listing["meetings"]]
        pages += 1
        page_token = listing["next_page_token"]
        if not page_token:
            break
        assert pages < 5, "paging does not end"
    assert pages == 3
    assert sorted(seen) == sorted(created)
    assert len(seen) == len(set(seen))


async def test_a_meeting_that_has_ended_is_no_longer_upcoming(kit: SandboxKit) -> None:
    token = await access_token(kit)
    now = await sandbox_now(kit)
    soon = await create(kit, token, start_time=zulu(now + timedelta(hours=1)), duration=30)
    later = await create(kit, token, start_time=zulu(now + timedelta(days=2)), duration=30)

    async def upcoming(token: str) -> list[int]:
        answer = await kit.api("GET", "/users/me/meetings", token, params={"type": "upcoming"})
        return [m["id"] for m in answer.json()["meetings"]]

    assert await upcoming(token) == [soon.json()["id"], later.json()["id"]]
    await kit.advance(2 * 3600)
    assert await upcoming(await access_token(kit)) == [later.json()["id"]]


async def test_a_meeting_can_be_read_updated_and_deleted(kit: SandboxKit) -> None:
    token = await access_token(kit)
    meeting_id = (await create(kit, token, topic="First", duration=30)).json()["id"]

    fetched = await kit.api("GET", f"/meetings/{meeting_id}", token)
    assert fetched.status_code == 200
    assert fetched.json()["id"] == meeting_id
    assert fetched.json()["topic"] == "First"

    patch = {"topic": "Renamed", "duration": 50, "start_time": "2027-02-01T08:00:00Z"}
    updated = await kit.api("PATCH", f"/meetings/{meeting_id}", token, json=patch)
    assert updated.status_code == 204
    assert updated.content == b""
    after = (await kit.api("GET", f"/meetings/{meeting_id}", token)).json()
    assert (after["topic"], after["duration"], after["start_time"]) == (
        "Renamed",
        50,
        "2027-02-01T08:00:00Z",
    )

    deleted = await kit.api("DELETE", f"/meetings/{meeting_id}", token)
    assert deleted.status_code == 204
    assert deleted.content == b""
    gone = await kit.api("GET", f"/meetings/{meeting_id}", token)
    assert gone.status_code == 404
    assert gone.json() == {
        "code": 3001,
        "message": f"Meeting {meeting_id} is not found or has expired.",
    }
    stats = await kit.control("GET", "/stats")
    assert stats["meetings"] == {"created": 1, "updated": 1, "deleted": 1, "live": 0}


async def test_another_users_meeting_is_not_found_for_a_second_user(kit: SandboxKit) -> None:
    host = await access_token(kit, "host@example.com")
    other = await access_token(kit, "other@example.com")
    meeting_id = (await create(kit, host, topic="Private")).json()["id"]
    expected = {"code": 3001, "message": f"Meeting {meeting_id} is not found or has expired."}
    for method, kwargs in (("GET", {}), ("PATCH", {"json": {"topic": "Mine"}}), ("DELETE", {})):
        answer = await kit.api(method, f"/meetings/{meeting_id}", other, **kwargs)
        assert answer.status_code == 404, method
        assert answer.json() == expected
    listing = await kit.api("GET", "/users/me/meetings", other)
    assert listing.json()["meetings"] == []
    still = await kit.api("GET", f"/meetings/{meeting_id}", host)
    assert still.json()["topic"] == "Private"


async def test_an_unknown_bearer_token_answers_401_code_124(kit: SandboxKit) -> None:
    answer = await kit.api("GET", "/users/me", "not-a-token-zoom-issued")
    assert answer.status_code == 401
    assert answer.json() == {"code": 124, "message": "Invalid access token."}


async def test_an_access_token_expires_after_an_hour(kit: SandboxKit) -> None:
    token = await access_token(kit)
    await kit.advance(3500)
    assert (await kit.api("GET", "/users/me", token)).status_code == 200
    await kit.advance(100)
    answer = await kit.api("POST", "/users/me/meetings", token, json={})
    assert answer.status_code == 401
    assert answer.json() == {"code": 124, "message": "Access token is expired."}


async def test_a_token_without_the_write_scope_cannot_create_meetings() -> None:
    async with own_kit(scopes="user:read:user") as kit:
        token = await access_token(kit)
        assert (await kit.api("GET", "/users/me", token)).status_code == 200
        answer = await create(kit, token, topic="Not allowed")
        assert answer.status_code in (400, 401)
        error = answer.json()
        assert error["code"] == 4711
        assert error["message"].startswith("Invalid access token, does not contain scopes:[")
        assert "meeting:write:meeting" in error["message"]
        assert (await kit.control("GET", "/stats"))["meetings"]["created"] == 0


async def test_the_daily_create_limit_answers_429_until_midnight_utc() -> None:
    async with own_kit(meetings_per_user_per_day=3) as kit:
        token = await access_token(kit)
        # Start well before midnight so the limit's day cannot turn over during the test.
        now = await sandbox_now(kit)
        if now.hour == 23:
            await kit.advance(3600)
            token = await access_token(kit)
        for n in range(3):
            assert (await create(kit, token, topic=f"#{n}")).status_code == 201

        refused = await create(kit, token, topic="#4")
        assert refused.status_code == 429
        assert refused.headers["X-RateLimit-Type"] == "Daily-limit"
        assert refused.json()["code"] == 429
        retry_after = int(refused.headers["Retry-After"])
        now = await sandbox_now(kit)
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        assert 0 < retry_after <= (midnight - now).total_seconds() + 2
        assert (await kit.control("GET", "/stats"))["meetings"]["created"] == 3

        await kit.advance(retry_after)
        token = await access_token(kit)
        again = await create(kit, token, topic="next day")
        assert again.status_code == 201, again.text


async def patch(kit: SandboxKit, token: str, meeting_id: object, **body: Any) -> httpx.Response:
    return await kit.api("PATCH", f"/meetings/{meeting_id}", token, json=body)


async def test_patching_a_meeting_moves_it_and_keeps_its_id_and_links(kit: SandboxKit) -> None:
    token = await access_token(kit)
    before = (await create(kit, token, topic="First", start_time="2027-03-01T10:00:00Z")).json()
    change = {
        "start_time": "2027-03-02T09:30:00",
        "timezone": "Europe/Berlin",
        "duration": 45,
        "topic": "Moved",
        "agenda": "Reference BK-1",
    }
    assert schema_errors("UpdateMeetingRequest", change) == []

    answer = await patch(kit, token, before["id"], **change)
    assert answer.status_code == 204
    assert answer.content == b""

    fetched = await kit.api("GET", f"/meetings/{before['id']}", token)
    after = fetched.json()
    assert schema_errors("GetMeetingDetailsResponse", after) == []
    assert after["start_time"] == "2027-03-02T08:30:00Z"  # 09:30 in Berlin in winter
    assert (after["timezone"], after["duration"], after["topic"], after["agenda"]) == (
        "Europe/Berlin",
        45,
        "Moved",
        "Reference BK-1",
    )
    for kept in ("id", "uuid", "join_url", "start_url", "password", "host_id", "created_at"):
        assert after[kept] == before[kept], kept
    stats = await kit.control("GET", "/stats")
    assert stats["meetings"] == {"created": 1, "updated": 1, "deleted": 0, "live": 1}


async def test_patching_only_the_time_zone_keeps_the_utc_start(kit: SandboxKit) -> None:
    token = await access_token(kit)
    meeting_id = (await create(kit, token, start_time="2027-03-01T10:00:00Z")).json()["id"]
    assert (await patch(kit, token, meeting_id, timezone="Asia/Tokyo")).status_code == 204
    after = (await kit.api("GET", f"/meetings/{meeting_id}", token)).json()
    assert (after["start_time"], after["timezone"]) == ("2027-03-01T10:00:00Z", "Asia/Tokyo")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"start_time": "2027-01-15T09:00:00+02:00"}, "start_time"),
        ({"start_time": 1_800_000_000}, "start_time"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"duration": "long"}, "duration"),
        ({"duration": -5}, "duration"),
        ({"topic": "x" * 201}, "topic"),
        ({"agenda": ["not", "text"]}, "agenda"),
    ],
)
async def test_a_bad_patch_answers_400_code_300_and_changes_nothing(
    kit: SandboxKit, body: dict[str, Any], field: str
) -> None:
    token = await access_token(kit)
    meeting_id = (await create(kit, token, topic="Keep", duration=30)).json()["id"]
    before = (await kit.api("GET", f"/meetings/{meeting_id}", token)).json()
    answer = await patch(kit, token, meeting_id, **body)
    assert answer.status_code == 400
    error = answer.json()
    assert (error["code"], error["message"]) == (300, "Validation Failed.")
    assert [e["field"] for e in error["errors"]] == [field]
    assert (await kit.api("GET", f"/meetings/{meeting_id}", token)).json() == before
    assert (await kit.control("GET", "/stats"))["meetings"]["updated"] == 0


async def test_a_patch_body_that_is_not_a_json_object_answers_400_code_300(
    kit: SandboxKit,
) -> None:
    token = await access_token(kit)
    meeting_id = (await create(kit, token)).json()["id"]
    answer = await kit.api("PATCH", f"/meetings/{meeting_id}", token, content=b"{broken")
    assert answer.status_code == 400
    assert answer.json()["code"] == 300
    assert (await kit.control("GET", "/stats"))["meetings"]["updated"] == 0


@pytest.mark.parametrize("meeting_id", ["12345678901", "not-a-number"])
async def test_patching_an_unknown_meeting_answers_404_code_3001(
    kit: SandboxKit, meeting_id: str
) -> None:
    token = await access_token(kit)
    answer = await patch(kit, token, meeting_id, topic="Nobody's")
    assert answer.status_code == 404
    assert answer.json() == {
        "code": 3001,
        "message": f"Meeting {meeting_id} is not found or has expired.",
    }


async def test_a_token_without_the_update_scope_cannot_patch_meetings() -> None:
    scopes = "user:read:user meeting:read:meeting meeting:write:meeting meeting:delete:meeting"
    async with own_kit(scopes=scopes) as kit:
        token = await access_token(kit)
        meeting_id = (await create(kit, token, topic="Fixed")).json()["id"]
        answer = await patch(kit, token, meeting_id, topic="Changed")
        assert answer.status_code in (400, 401)
        error = answer.json()
        assert error["code"] == 4711
        assert "meeting:update:meeting" in error["message"]
        after = (await kit.api("GET", f"/meetings/{meeting_id}", token)).json()
        assert after["topic"] == "Fixed"
        assert (await kit.control("GET", "/stats"))["meetings"]["updated"] == 0


async def test_patches_count_toward_the_daily_create_and_update_limit() -> None:
    async with own_kit(meetings_per_user_per_day=2) as kit:
        if (await sandbox_now(kit)).hour == 23:
            await kit.advance(3600)
        token = await access_token(kit)
        meeting_id = (await create(kit, token, topic="One")).json()["id"]
        assert (await patch(kit, token, meeting_id, topic="Two")).status_code == 204
        refused = await patch(kit, token, meeting_id, topic="Three")
        assert refused.status_code == 429
        assert refused.headers["X-RateLimit-Type"] == "Daily-limit"
        after = (await kit.api("GET", f"/meetings/{meeting_id}", token)).json()
        assert after["topic"] == "Two"
        assert (await kit.control("GET", "/stats"))["meetings"]["updated"] == 1


async def test_api_faults_apply_to_patches(kit: SandboxKit) -> None:
    token = await access_token(kit)
    meeting_id = (await create(kit, token, topic="Start")).json()["id"]

    await kit.control("PUT", "/faults", json={"api": {"error_rate": 1, "status": 503}})
    failed = await patch(kit, token, meeting_id, topic="Refused")
    assert failed.status_code == 503

    faults = {"api": {"fail_after_success_rate": 1, "status": 502}}
    await kit.control("PUT", "/faults", json=faults)
    gateway = await patch(kit, token, meeting_id, topic="Gateway")
    assert gateway.status_code == 502

    await kit.control("PUT", "/faults", json={"api": {"lose_response_rate": 1}})
    with pytest.raises(httpx.RemoteProtocolError):
        await patch(kit, token, meeting_id, topic="Lost answer")

    await kit.control("DELETE", "/faults")
    after = (await kit.api("GET", f"/meetings/{meeting_id}", token)).json()
    assert after["topic"] == "Lost answer"  # both the gateway's and the lost one happened
    stats = await kit.control("GET", "/stats")
    assert stats["meetings"]["updated"] == 2
    assert stats["faults"] == {"http_503": 1, "failed_after_success": 1, "response_lost": 1}
