"""The meetings job: make pending meetings when due, move rescheduled ones, finish
deletions of cancelled ones."""

import logging
from dataclasses import dataclass

from specialistly.bookings import service
from specialistly.bookings.meetings import MeetingMaker
from specialistly.bookings.moves import MeetingMover, due_for_moves
from specialistly.clock import Clock
from specialistly.db import Database

log = logging.getLogger(__name__)
BATCH = 200


@dataclass
class MeetingsReport:
    due: int = 0
    moves: int = 0
    deletions: int = 0
    grants_revoked: int = 0


async def run_meetings(
    maker: MeetingMaker, db: Database, clock: Clock, mover: MeetingMover | None = None
) -> MeetingsReport:
    async with db.reading() as session:
        due = await service.due_for_meetings(session, clock.now(), BATCH)
        deletions = await service.due_for_deletion(session, BATCH)
        moves = await due_for_moves(session, clock.now(), BATCH) if mover else []
    for booking_id in due:
        await maker.ensure(booking_id)
    for booking_id in moves:
        assert mover is not None
        await mover.move(booking_id)
    for booking_id in deletions:
        await maker.delete_if_pending(booking_id)
    # Grants replaced by a reconnect with another Zoom user, once no meeting needs them.
    revoked = await maker.release_retired()
    if due or deletions or revoked or moves:
        log.info(
            "Meetings job: %d due, %d moves, %d deletions, %d grants revoked",
            len(due),
            len(moves),
            len(deletions),
            revoked,
        )
    return MeetingsReport(
        due=len(due), moves=len(moves), deletions=len(deletions), grants_revoked=revoked
    )
