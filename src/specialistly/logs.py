"""Log lines with ISO 8601 timestamps."""

import logging
import re
import sys
from datetime import UTC, datetime

# Query values that grant access: OAuth codes and states, customers' manage tokens.
SECRET_QUERY = re.compile(
    r"([?&](?:code|state|token|access_token|refresh_token|zak|pwd)=)[^&\s\"']+", re.IGNORECASE
)


class RedactQuerySecrets(logging.Filter):
    """A safety net behind the rule that nothing secret is logged: mask secret URL values."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = SECRET_QUERY.sub(r"\1[redacted]", message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class IsoFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


def configure_logging(level: str = "INFO") -> None:
    """Send every logger's records to stderr as `time level logger: message`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(IsoFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactQuerySecrets())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # httpx logs every URL it calls at INFO; Zoom's are ours to describe, not its.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
