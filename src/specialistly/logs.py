"""Log lines: readable with ISO 8601 timestamps, or one JSON object per line; each line of a
request carries its request id; secret URL values are masked as a safety net."""

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Literal

request_id: ContextVar[str] = ContextVar("request_id", default="-")

# Query values that grant access: OAuth codes and states, customers' manage tokens.
SECRET_QUERY = re.compile(
    r"([?&](?:code|state|token|access_token|refresh_token|zak|pwd)=)[^&\s\"']+", re.IGNORECASE
)


class RedactQuerySecrets(logging.Filter):
    """A safety net behind the rule that nothing secret is logged: mask secret URL values."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "=" not in message:  # every secret SECRET_QUERY masks follows a "name="
            return True
        cleaned = SECRET_QUERY.sub(r"\1[redacted]", message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class WithRequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


def _iso(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class IsoFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _iso(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line; exceptions give their type, never their (maybe secret) text."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": _iso(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = record.exc_info[0].__name__
        return json.dumps(line, ensure_ascii=False)


def configure_logging(fmt: Literal["text", "json"] = "text", level: str = "INFO") -> None:
    """Send every logger's records to stderr in the chosen format."""
    # No format names the caller's file, line, thread or process: skip finding them for each
    # record (the logging HOWTO's "Optimization"; a booking logs several lines). For the whole
    # process, and `stack_info=` / `stacklevel=` then do nothing (nothing here uses them).
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            IsoFormatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
        )
    handler.addFilter(WithRequestId())
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
