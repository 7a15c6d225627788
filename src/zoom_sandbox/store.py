"""Keep a sandbox's state in a SQLite file, so a restarted sandbox still knows its users,
grants, tokens and meetings (and its clock): join links and connections keep working.

One table of JSON records keyed by kind and key. `save` writes only the records the state
noted as changed, in one transaction; SQLite's journal makes a kill -9 mid-write lose at most
that transaction, never the file. Statistics are not kept: they count since the start.
"""

import json
import logging
import os
import sqlite3
import threading
from dataclasses import asdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from zoom_sandbox.clock import SandboxClock
from zoom_sandbox.state import (
    AccessToken,
    AuthorizationCode,
    Grant,
    Meeting,
    SandboxState,
    ZoomUser,
)

log = logging.getLogger("zoom_sandbox")
SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (kind, key)
)
"""
CLOCK = ("clock", "offset_seconds")


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def _record(state: SandboxState, kind: str, key: Any) -> dict[str, Any] | None:
    """The JSON-ready record for (kind, key), or None when the state no longer has it."""
    found: Any
    if kind == "user":
        found = state.users_by_id.get(key)
        return asdict(found) | {"created_at": found.created_at.isoformat()} if found else None
    if kind == "code":
        found = state.codes.get(key)
        return asdict(found) | {"expires_at": found.expires_at.isoformat()} if found else None
    if kind == "grant":
        found = state.grants.get(key)
        if found is None:
            return None
        expiry = found.refresh_expires_at
        return {
            "id": found.id,
            "client_id": found.client_id,
            "user_id": found.user_id,
            "scopes": list(found.scopes),
            "refresh_token": found.refresh_token,
            "refresh_expires_at": expiry.isoformat() if expiry else None,
            "active": found.active,
        }
    if kind == "token":
        found = state.access_tokens.get(key)
        return asdict(found) | {"expires_at": found.expires_at.isoformat()} if found else None
    if kind == "meeting":
        found = state.meetings.get(key)
        return {"id": found.id, "host_id": found.host_id, "body": found.body} if found else None
    if kind == "daily":
        count = state.daily_writes.get(key)
        return {"user_id": key[0], "date": key[1].isoformat(), "count": count} if count else None
    raise ValueError(f"unknown record kind {kind}")


def _key(kind: str, key: Any) -> str:
    return f"{key[0]}|{key[1].isoformat()}" if kind == "daily" else str(key)


def _restore(state: SandboxState, kind: str, value: dict[str, Any]) -> None:
    if kind == "user":
        value["created_at"] = _when(value["created_at"])
        user = ZoomUser(**value)
        state.users_by_email[user.email] = user
        state.users_by_id[user.id] = user
    elif kind == "code":
        value["expires_at"] = _when(value["expires_at"])
        state.codes[value["code"]] = AuthorizationCode(**value)
    elif kind == "grant":
        grant = Grant(
            id=value["id"],
            client_id=value["client_id"],
            user_id=value["user_id"],
            scopes=tuple(value["scopes"]),
            refresh_token=value["refresh_token"],
            refresh_expires_at=_when(value["refresh_expires_at"]),
            active=value["active"],
        )
        state.grants[grant.id] = grant
        if grant.active and grant.refresh_token is not None:
            state.grant_by_refresh_token[grant.refresh_token] = grant.id
    elif kind == "token":
        value["expires_at"] = _when(value["expires_at"])
        token = AccessToken(**value)
        state.access_tokens[token.token] = token
    elif kind == "meeting":
        state.meetings[int(value["id"])] = Meeting(
            int(value["id"]), value["host_id"], value["body"]
        )
    elif kind == "daily":
        state.daily_writes[(value["user_id"], date.fromisoformat(value["date"]))] = value["count"]


# Tokens come after grants so that each grant learns its access tokens.
ORDER = ("user", "code", "grant", "token", "meeting", "daily")


def _connect(path: Path) -> sqlite3.Connection:
    # It holds tokens (the sandbox's own, worthless elsewhere): readable by its owner only;
    # SQLite gives its journal files the same mode.
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    os.chmod(path, 0o600)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # survives a killed process; only OS crashes not
        db.execute(SCHEMA)
        db.execute("SELECT count(*) FROM records").fetchone()
    except sqlite3.DatabaseError:
        db.close()
        raise
    return db


class SandboxStore:
    """A SQLite file holding one sandbox's state; `load` at start, `save` after each change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = self._open()
        self._saved_offset: float | None = None

    def _open(self) -> sqlite3.Connection:
        try:
            return _connect(self.path)
        except sqlite3.DatabaseError:
            aside = self.path.with_name(self.path.name + ".unreadable")
            log.warning("sandbox state %s is unreadable; moved to %s", self.path, aside)
            os.replace(self.path, aside)
            return _connect(self.path)

    def load(self, clock: SandboxClock) -> SandboxState:
        """Read the saved state (and move `clock` to its saved offset)."""
        state = SandboxState()
        with self._lock:
            rows = self._db.execute("SELECT kind, key, value FROM records").fetchall()
        rank = {kind: i for i, kind in enumerate(ORDER)}
        for kind, key, value in sorted(rows, key=lambda row: rank.get(row[0], len(ORDER))):
            if kind in rank:
                _restore(state, kind, json.loads(value))
            elif (kind, key) == CLOCK:
                self._saved_offset = float(json.loads(value))
                clock.set_offset(timedelta(seconds=self._saved_offset))
        for token in state.access_tokens.values():
            grant = state.grants.get(token.grant_id)
            if grant is not None:
                grant.access_tokens.add(token.token)
        return state

    def save(self, state: SandboxState, clock: SandboxClock) -> None:
        """Write every record changed since the last save, in one transaction."""
        offset = clock.offset.total_seconds()
        if not state.changes and offset == self._saved_offset:
            return
        changes, state.changes = state.changes, set()
        upserts, deletes = [], []
        for kind, key in changes:
            record = _record(state, kind, key)
            if record is None:
                deletes.append((kind, _key(kind, key)))
            else:
                upserts.append((kind, _key(kind, key), json.dumps(record)))
        if offset != self._saved_offset:
            upserts.append((*CLOCK, json.dumps(offset)))
        with self._lock:
            try:
                self._db.execute("BEGIN")
                self._db.executemany(
                    "INSERT INTO records (kind, key, value) VALUES (?, ?, ?) "
                    "ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value",
                    upserts,
                )
                self._db.executemany("DELETE FROM records WHERE kind = ? AND key = ?", deletes)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                # The sandbox goes on in memory; the next save tries these records again.
                state.changes |= changes
                log.warning("sandbox state not saved to %s: %s", self.path, exc)
                return
        self._saved_offset = offset

    def wipe(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM records")
        self._saved_offset = None

    def close(self) -> None:
        with self._lock:
            self._db.close()
