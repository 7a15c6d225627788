"""Pages for people when a page cannot answer: an unknown address, a bad link, an old form.

API paths keep their JSON errors; everything else a browser opens gets a page in plain words.
"""

import logging

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException

from specialistly import errors
from specialistly.deps import optional_specialist
from specialistly.web.pages import TEMPLATES, render

log = logging.getLogger(__name__)

NOT_PAGES = ("/api/", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc")
TITLES = {
    400: "That did not work",
    403: "This form has expired",
    404: "Page not found",
    405: "Page not found",
    410: "This link has expired",
}


def is_page(request: Request) -> bool:
    return not request.url.path.startswith(NOT_PAGES)


async def _page(request: Request, status: int, text: str) -> Response:
    ctx = request.app.state.ctx
    me = await optional_specialist(request, ctx)
    title = TITLES.get(status, "Something went wrong")
    # A wrong method on a page's address is a link that leads nowhere: say 404 to people.
    shown = 404 if status == 405 else status
    return render(request, ctx, "error.html", {"title": title, "text": text}, me=me, status=shown)


def install(app: FastAPI) -> None:
    """Answer pages' errors with pages, and the API's with JSON as before."""

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if not is_page(request):
            return await http_exception_handler(request, exc)
        if exc.status_code in (404, 405):
            return await _page(request, exc.status_code, "There is nothing at this address.")
        return await _page(request, exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        # A page for people, with the id to quote; no database read, which may be the fault.
        rid = str(getattr(request.state, "request_id", "") or "unknown")
        log.error("Unhandled %s (request %s)", type(exc).__name__, rid)
        headers = {"X-Request-ID": rid, "Cache-Control": "no-store"}
        if not is_page(request):
            body = {"detail": "Something went wrong on our side.", "request_id": rid}
            return JSONResponse(body, status_code=500, headers=headers)
        page = TEMPLATES.get_template("error.html").render(
            title="Something went wrong",
            text="This is our fault, not yours. Please try again in a minute.",
            request_id=rid,
            me=None,
            sandbox=request.app.state.ctx.settings.sandbox,
            csrf="",
        )
        return HTMLResponse(page, status_code=500, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def bad_link(request: Request, exc: RequestValidationError) -> Response:
        if not is_page(request):
            return errors.invalid(exc)
        return await _page(request, 404, "This link is not complete or not right.")
