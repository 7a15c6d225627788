"""Everything the sandbox remembers: users, codes, grants, tokens, meetings and counters.

Every change to what a restart must keep goes through a method here, which notes the changed
record in `changes`; a `SandboxStore` (store.py) writes exactly those records.
"""

import secrets
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


def new_token() -> str:
    return secrets.token_urlsafe(48)


def new_user_id() -> str:
    return secrets.token_urlsafe(16)[:22]


@dataclass
class ZoomUser:
    id: str
    email: str
    account_id: str
    pmi: int
    created_at: datetime
    timezone: str = "UTC"

    @property
    def first_name(self) -> str:
        return self.email.split("@", 1)[0].split(".")[0].capitalize()

    @property
    def last_name(self) -> str:
        return "Sandbox"


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    user_id: str
    redirect_uri: str
    expires_at: datetime
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    used: bool = False


@dataclass
class Grant:
    """One authorization of one app by one user (or one S2S token): its refresh token rotates."""

    id: str
    client_id: str
    user_id: str
    scopes: tuple[str, ...]
    refresh_token: str | None
    refresh_expires_at: datetime | None
    access_tokens: set[str] = field(default_factory=set)
    active: bool = True


@dataclass
class AccessToken:
    token: str
    grant_id: str
    expires_at: datetime


@dataclass
class Meeting:
    id: int
    host_id: str
    body: dict[str, Any]


@dataclass
class Stats:
    token_requests: defaultdict[str, Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter)
    )
    refresh_requests_by_client: Counter[str] = field(default_factory=Counter)
    api_requests: Counter[str] = field(default_factory=Counter)
    meetings_created: int = 0
    meetings_updated: int = 0
    meetings_deleted: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    webhooks: Counter[str] = field(default_factory=Counter)


@dataclass
class SandboxState:
    users_by_email: dict[str, ZoomUser] = field(default_factory=dict)
    users_by_id: dict[str, ZoomUser] = field(default_factory=dict)
    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    grant_by_refresh_token: dict[str, str] = field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    meetings: dict[int, Meeting] = field(default_factory=dict)
    daily_writes: Counter[tuple[str, date]] = field(default_factory=Counter)
    stats: Stats = field(default_factory=Stats)
    # (kind, key) of each record changed since the last save; stats are not kept.
    changes: set[tuple[str, Any]] = field(default_factory=set)

    def user(self, email: str, *, account_id: str, now: datetime) -> ZoomUser:
        """Return the Zoom user with this email, creating it on first sign-in."""
        key = email.strip().lower()
        found = self.users_by_email.get(key)
        if found is None:
            found = ZoomUser(
                id=new_user_id(),
                email=key,
                account_id=account_id,
                pmi=secrets.randbelow(9_000_000_000) + 1_000_000_000,
                created_at=now,
            )
            self.add_user(found)
        return found

    def add_user(self, user: ZoomUser) -> None:
        self.users_by_email[user.email] = user
        self.users_by_id[user.id] = user
        self.changes.add(("user", user.id))

    def add_code(self, code: AuthorizationCode) -> None:
        self.codes[code.code] = code
        self.changes.add(("code", code.code))

    def use_code(self, code: AuthorizationCode) -> None:
        code.used = True
        self.changes.add(("code", code.code))

    def add_grant(self, grant: Grant) -> None:
        self.grants[grant.id] = grant
        if grant.refresh_token is not None and grant.active:
            self.grant_by_refresh_token[grant.refresh_token] = grant.id
        self.changes.add(("grant", grant.id))

    def add_access_token(self, token: AccessToken) -> None:
        self.access_tokens[token.token] = token
        grant = self.grants.get(token.grant_id)
        if grant is not None:
            grant.access_tokens.add(token.token)
        self.changes.add(("token", token.token))

    def add_meeting(self, meeting: Meeting) -> None:
        self.meetings[meeting.id] = meeting
        self.changes.add(("meeting", meeting.id))

    def meeting_changed(self, meeting: Meeting) -> None:
        self.changes.add(("meeting", meeting.id))

    def delete_meeting(self, meeting: Meeting) -> None:
        del self.meetings[meeting.id]
        self.changes.add(("meeting", meeting.id))

    def count_write(self, key: tuple[str, date]) -> None:
        self.daily_writes[key] += 1
        self.changes.add(("daily", key))

    def end_grant(self, grant: Grant) -> None:
        """Make a grant's refresh token and every access token it issued stop working."""
        grant.active = False
        self.changes.add(("grant", grant.id))
        if grant.refresh_token is not None:
            self.grant_by_refresh_token.pop(grant.refresh_token, None)
        for token in grant.access_tokens:
            self.access_tokens.pop(token, None)
            self.changes.add(("token", token))
        grant.access_tokens.clear()

    def active_grants(self, *, user_id: str, client_id: str | None = None) -> list[Grant]:
        return [
            g
            for g in self.grants.values()
            if g.active and g.user_id == user_id and (client_id is None or g.client_id == client_id)
        ]

    def issue_access_token(self, grant: Grant, expires_at: datetime) -> str:
        token = new_token()
        self.add_access_token(AccessToken(token, grant.id, expires_at))
        return token

    def rotate_refresh_token(self, grant: Grant, expires_at: datetime) -> str:
        if grant.refresh_token is not None:
            self.grant_by_refresh_token.pop(grant.refresh_token, None)
        grant.refresh_token = new_token()
        grant.refresh_expires_at = expires_at
        self.grant_by_refresh_token[grant.refresh_token] = grant.id
        self.changes.add(("grant", grant.id))
        return grant.refresh_token

    def live_meetings(self) -> int:
        return len(self.meetings)
