"""What can stop a specialist's Zoom from being used, in the domain's words."""


class ZoomNotConnected(Exception):
    """The specialist has not connected Zoom (or disconnected it)."""


class ZoomReauthorizationRequired(Exception):
    """Zoom ended the grant: only the specialist reconnecting can fix it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ConnectFailed(Exception):
    """The connect flow stopped; `reason` is a short code for the dashboard, `detail` says more."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail
