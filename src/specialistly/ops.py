"""Operators' tools behind the command line: doctor, tokens, key rotation. Never a secret out."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from specialistly.bookings.models import Booking
from specialistly.config import (
    CALLBACK_PATH,
    CREDENTIAL_VARS,
    LIVE_REQUIRED,
    S2S_VARS,
    Settings,
    redirect_path,
)
from specialistly.connections.models import OAuthState, ZoomConnection
from specialistly.context import AppContext
from specialistly.db import Database
from specialistly.notifications.models import OutboxEmail
from specialistly.security import TokenCipher, mask
from specialistly.specialists.models import Specialist
from specialistly.zoom.errors import ZoomError, ZoomTokenRejected
from specialistly.zoom.oauth import AppCredentials, ZoomServerToServer
from specialistly.zoom.transport import RetryPolicy

SECRET_VARS = {
    "ZOOM_USER_MANAGED_CLIENT_SECRET",
    "ZOOM_CLIENT_SECRET",
    "ZOOM_WEBHOOK_SECRET_TOKEN",
    "TOKEN_ENCRYPTION_KEYS",
    "SECRET_KEY",
    "SMTP_URL",
    "DATABASE_URL",
}
SHOWN_VARS = (
    *CREDENTIAL_VARS[:2],
    "ZOOM_REDIRECT_URI",
    *S2S_VARS,
    "ZOOM_WEBHOOK_SECRET_TOKEN",
    "ZOOM_OAUTH_BASE_URL",
    "ZOOM_API_BASE_URL",
    "APP_ENV",
    "DATABASE_URL",
    "TOKEN_ENCRYPTION_KEYS",
    "SECRET_KEY",
    "PUBLIC_BASE_URL",
    "SMTP_URL",
    "SMTP_CA_FILE",
    "MEETING_FALLBACK",
)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _value(settings: Settings, name: str) -> str | None:
    raw = getattr(settings, name.lower())
    if raw is None:
        return None
    return str(raw.get_secret_value() if hasattr(raw, "get_secret_value") else raw) or None


def _shown(settings: Settings, name: str) -> str:
    value = _value(settings, name)
    if value is None:
        return "(not set)"
    return mask(value) if name in SECRET_VARS else value


async def doctor(given: Settings, filled: Settings, http: httpx.AsyncClient) -> list[Check]:
    """Check a configuration the way an operator would, secrets masked."""
    checks: list[Check] = []
    if filled.sandbox:
        checks.append(Check("mode", True, "sandbox: the built-in Zoom sandbox stands in for Zoom"))
    else:
        checks.append(Check("mode", True, f"live: Zoom at {filled.zoom_oauth_base_url}"))
    required = set(LIVE_REQUIRED) if not filled.sandbox else set()
    if filled.production:
        required |= {"TOKEN_ENCRYPTION_KEYS", "SECRET_KEY"}
    s2s_given = [v for v in S2S_VARS if _value(given, v)]
    for name in SHOWN_VARS:
        present = _value(given, name) is not None
        needed = name in required or (name in S2S_VARS and bool(s2s_given))
        detail = _shown(given, name)
        if not present and _value(filled, name) is not None:
            generated = name in SECRET_VARS or name in CREDENTIAL_VARS
            detail = "generated (var/secrets.json)" if generated else _shown(filled, name)
        elif name in ("ZOOM_OAUTH_BASE_URL", "ZOOM_API_BASE_URL", "ZOOM_REDIRECT_URI"):
            detail = _shown(filled, name)
        if name == "DATABASE_URL" and not present:
            detail = f"(not set: SQLite under {filled.var_dir}/)"
        checks.append(
            Check(
                name,
                present or not needed,
                detail if present or not needed else "missing: required here",
            )
        )
    checks.append(_distinct(filled))
    checks.append(_redirect(filled))
    checks.append(_keys(filled))
    checks.append(await _database(filled))
    if not filled.sandbox:
        checks.append(await _s2s_token(filled, http))
    return checks


def _distinct(s: Settings) -> Check:
    same_id = (
        bool(s.zoom_user_managed_client_id) and s.zoom_user_managed_client_id == s.zoom_client_id
    )
    secrets = (_value(s, "ZOOM_USER_MANAGED_CLIENT_SECRET"), _value(s, "ZOOM_CLIENT_SECRET"))
    same_secret = secrets[0] is not None and secrets[0] == secrets[1]
    if same_id or same_secret:
        return Check(
            "apps distinct",
            False,
            "the user-managed and Server-to-Server apps share "
            "credentials: refreshing specialists' tokens would fail",
        )
    return Check("apps distinct", True, "user-managed and Server-to-Server credentials differ")


def _redirect(s: Settings) -> Check:
    uri = s.zoom_redirect_uri or ""
    if not uri:
        return Check("redirect URI", False, "ZOOM_REDIRECT_URI is not set")
    if redirect_path(s) != CALLBACK_PATH:
        return Check(
            "redirect URI",
            False,
            f"its path {redirect_path(s) or '/'} is not the callback route {CALLBACK_PATH}",
        )
    if s.production and not uri.startswith("https://"):
        return Check("redirect URI", False, "production needs an https:// redirect URI")
    return Check("redirect URI", True, f"{uri} matches the callback route")


def _keys(s: Settings) -> Check:
    try:
        cipher = TokenCipher(s.encryption_keys)
    except ValueError as problem:
        return Check("encryption keys", False, f"TOKEN_ENCRYPTION_KEYS: {problem}")
    return Check(
        "encryption keys",
        True,
        f"{len(s.encryption_keys)} key(s); newest id {cipher.newest_key_id}",
    )


async def _database(s: Settings) -> Check:
    db = Database(s.async_database_url)
    try:
        ready, detail = await db.readiness()
    finally:
        await db.dispose()
    return Check("database", ready, "reachable and migrated" if ready else detail)


async def _s2s_token(s: Settings, http: httpx.AsyncClient) -> Check:
    if not s.has_s2s or s.zoom_client_secret is None:
        return Check("Zoom S2S token", True, "no Server-to-Server app configured (no fallback)")
    s2s = ZoomServerToServer(
        http,
        oauth_base_url=s.zoom_oauth_base_url,
        app=AppCredentials(s.zoom_client_id or "", s.zoom_client_secret.get_secret_value()),
        account_id=s.zoom_account_id or "",
        retry=RetryPolicy(attempts=1),
    )
    try:
        grant = await s2s.token()
    except ZoomTokenRejected as rejected:
        return Check("Zoom S2S token", False, f"Zoom refused: {rejected.error} ({rejected.reason})")
    except ZoomError as failed:
        return Check(
            "Zoom S2S token", False, f"cannot reach Zoom at {s.zoom_oauth_base_url}: {failed}"
        )
    return Check("Zoom S2S token", True, f"granted, expires in {grant.expires_in} s")


# --- tokens -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenStatus:
    specialist_id: int
    email: str
    status: str
    zoom_email: str | None
    minutes_left: int | None
    last_refreshed_at: datetime | None
    refresh_error_count: int
    last_error: str | None


async def token_statuses(ctx: AppContext, who: str | None = None) -> list[TokenStatus]:
    """Each specialist's connection (or one, by id or email): never a token."""
    now = ctx.clock.now()
    async with ctx.db.reading() as session:
        query = (
            select(Specialist, ZoomConnection)
            .outerjoin(ZoomConnection, ZoomConnection.specialist_id == Specialist.id)
            .order_by(Specialist.id)
        )
        if who is not None:
            query = query.where(
                Specialist.id == int(who) if who.isdigit() else Specialist.email == who.lower()
            )
        rows = (await session.execute(query)).all()
    found = []
    for specialist, connection in rows:
        left = None
        if (
            connection is not None
            and connection.access_token_expires_at
            and connection.access_token
        ):
            left = int((connection.access_token_expires_at - now).total_seconds() // 60)
        found.append(
            TokenStatus(
                specialist_id=specialist.id,
                email=specialist.email,
                status=connection.status.value if connection else "not_connected",
                zoom_email=connection.zoom_email if connection else None,
                minutes_left=left,
                last_refreshed_at=connection.last_refreshed_at if connection else None,
                refresh_error_count=connection.refresh_error_count if connection else 0,
                last_error=connection.last_error if connection else None,
            )
        )
    return found


async def refresh_now(ctx: AppContext, specialist_id: int) -> None:
    """Refresh one specialist's token now, as a 401 from Zoom would."""
    current = await ctx.connections.get_valid_token(specialist_id)
    await ctx.connections.get_valid_token(specialist_id, stale=current.token)


# --- key rotation -------------------------------------------------------------------------

ENCRYPTED: tuple[tuple[Any, Any, tuple[str, ...]], ...] = (
    (ZoomConnection, ZoomConnection.id, ("access_token", "refresh_token")),
    (OAuthState, OAuthState.state_digest, ("code_verifier",)),
    (Booking, Booking.id, ("manage_token", "start_url")),
    (OutboxEmail, OutboxEmail.id, ("body", "attachments")),
)


async def rotate_keys(
    db: Database,
    cipher: TokenCipher,
    *,
    batch: int = 100,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Re-encrypt every stored secret under the newest key, in the current format (values an
    earlier version wrote in Fernet's format too); answer how many values changed.

    Each batch commits on its own, so an interrupted run loses nothing and running again
    finishes the job; values under older keys keep reading meanwhile.
    """
    async with db.reading() as session:
        keys = [
            (model, key, columns, list(await session.scalars(select(key))))
            for model, key, columns in ENCRYPTED
        ]
    total, done, changed = sum(len(ids) for *_, ids in keys), 0, 0
    for model, key, columns, ids in keys:
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            async with db.transaction() as session:
                changed += await _reencrypt(session, model, key, columns, chunk, cipher)
            done += len(chunk)
            if progress:
                progress(done, total)
    return changed


async def _reencrypt(
    session: AsyncSession,
    model: Any,
    key: Any,
    columns: tuple[str, ...],
    ids: list[Any],
    cipher: TokenCipher,
) -> int:
    changed = 0
    rows = await session.scalars(select(model).where(key.in_(ids)).with_for_update())
    for row in rows:
        for column in columns:
            stored = getattr(row, column)
            if stored and not cipher.is_current(stored):
                setattr(row, column, cipher.encrypt(cipher.decrypt(stored)))
                changed += 1
    return changed
