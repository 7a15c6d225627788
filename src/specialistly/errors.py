"""HTTP error answers that never echo what the client sent (a password, a token)."""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


def _clean(error: dict[str, Any]) -> dict[str, Any]:
    return {
        "loc": list(error.get("loc", ())),
        "msg": str(error.get("msg", "")),
        "type": str(error.get("type", "")),
    }


def invalid(exc: RequestValidationError) -> JSONResponse:
    """Where and what was invalid, never the input itself."""
    return JSONResponse({"detail": [_clean(e) for e in exc.errors()]}, status_code=422)


def install(app: FastAPI) -> None:
    """Answer validation errors with where and what, never the input itself."""

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return invalid(exc)
