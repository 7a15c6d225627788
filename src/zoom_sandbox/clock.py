"""The sandbox's own clock: real time plus an offset that the control API can move."""

from datetime import UTC, datetime, timedelta


class SandboxClock:
    """Tell the time as the sandbox sees it; `advance` moves it forward for tests and rehearsals."""

    def __init__(self) -> None:
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> datetime:
        self._offset += timedelta(seconds=seconds)
        return self.now()

    @property
    def offset(self) -> timedelta:
        return self._offset

    def set_offset(self, offset: timedelta) -> None:
        self._offset = offset

    def reset(self) -> None:
        self._offset = timedelta(0)
