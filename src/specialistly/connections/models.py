"""A specialist's Zoom connection (the old `UserOAuthToken`) and pending OAuth states."""

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from specialistly.db import Base, UTCDateTime


class ConnectionStatus(enum.StrEnum):
    NOT_CONNECTED = "not_connected"
    CONNECTED = "connected"
    NEEDS_RECONNECT = "needs_reconnect"


class ZoomConnection(Base):
    """One specialist's grant from Zoom; tokens are stored encrypted, tagged with their key id."""

    __tablename__ = "zoom_connections"

    id: Mapped[int] = mapped_column(primary_key=True)
    specialist_id: Mapped[int] = mapped_column(
        ForeignKey("specialists.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[ConnectionStatus] = mapped_column(
        Enum(
            ConnectionStatus,
            native_enum=False,
            length=20,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=ConnectionStatus.NOT_CONNECTED,
    )
    zoom_user_id: Mapped[str | None] = mapped_column(String(64), index=True)
    zoom_email: Mapped[str | None] = mapped_column(String(320))
    access_token: Mapped[str | None] = mapped_column(Text)
    refresh_token: Mapped[str | None] = mapped_column(Text)
    access_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    scopes: Mapped[str] = mapped_column(Text, default="")
    api_url: Mapped[str | None] = mapped_column(String(255))
    refresh_error_count: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # When a refresh got no answer: Zoom may have rotated the token without our knowing.
    refresh_answer_lost_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set when the specialist has been told about the current incident; cleared when it ends.
    incident_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The right to refresh, held by one process of the cluster while it waits on Zoom (no
    # transaction is open meanwhile); it outlasts the refresh's whole retry budget.
    refresh_lease_owner: Mapped[str | None] = mapped_column(String(64))
    refresh_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def forget_tokens(self) -> None:
        self.access_token = self.refresh_token = None
        self.access_token_expires_at = None
        self.release_lease()

    def lease_held_by_another(self, owner: str, now: datetime) -> bool:
        """Whether someone else holds the right to refresh right now."""
        return (
            self.refresh_lease_owner is not None
            and self.refresh_lease_owner != owner
            and self.refresh_lease_until is not None
            and self.refresh_lease_until > now
        )

    def take_lease(self, owner: str, until: datetime) -> None:
        self.refresh_lease_owner, self.refresh_lease_until = owner, until

    def release_lease(self, owner: str | None = None) -> None:
        """Give the lease up (only if `owner` holds it, when named)."""
        if owner is None or self.refresh_lease_owner == owner:
            self.refresh_lease_owner = self.refresh_lease_until = None


class OAuthState(Base):
    """A connect attempt in flight: single-use, short-lived, bound to one specialist."""

    __tablename__ = "oauth_states"

    state_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    specialist_id: Mapped[int] = mapped_column(
        ForeignKey("specialists.id", ondelete="CASCADE"), index=True
    )
    code_verifier: Mapped[str] = mapped_column(Text)  # encrypted like the tokens
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RefreshEvent(Base):
    """One refresh attempt's outcome, for the specialist's view of their token's health."""

    __tablename__ = "zoom_refresh_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    specialist_id: Mapped[int] = mapped_column(
        ForeignKey("specialists.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(20))  # connected, ok, transient, dead
    detail: Mapped[str | None] = mapped_column(Text)


class ZoomRetiredGrant(Base):
    """A grant replaced by a reconnect with another Zoom user, kept while its meetings need it.

    Meetings already sent to customers are hosted by that user: only this grant can delete
    or move them. Once no upcoming meeting needs it, it is revoked at Zoom and deleted.
    Tokens are encrypted like a connection's; a refresh takes a short lease on the row
    (`lease_owner`, `lease_until`) instead of holding a transaction across Zoom's answer.
    """

    __tablename__ = "zoom_retired_grants"
    __table_args__ = (UniqueConstraint("specialist_id", "zoom_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    specialist_id: Mapped[int] = mapped_column(
        ForeignKey("specialists.id", ondelete="CASCADE"), index=True
    )
    zoom_user_id: Mapped[str] = mapped_column(String(64), index=True)
    zoom_email: Mapped[str | None] = mapped_column(String(320))
    access_token: Mapped[str] = mapped_column(Text)
    refresh_token: Mapped[str] = mapped_column(Text)
    access_token_expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    api_url: Mapped[str | None] = mapped_column(String(255))
    retired_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
