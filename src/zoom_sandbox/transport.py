"""Lost and failed answers: the operation happens, then the connection closes with no answer
at all, or the answer is an error (a gateway failing after the work).

ASGI has no message for "close without answering", so the sandbox asks whoever serves it:
`UvicornConnectionDropper` closes uvicorn's socket, `SandboxTransport` (in-process) raises the
same error httpx raises when a real server hangs up.
"""

import asyncio
from collections.abc import Callable

import httpx
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

EXCHANGE_KEY = "zoom_sandbox.exchange"
DROP_KEY = "zoom_sandbox.drop_connection"


class Exchange:
    """Per-request flag the handlers set when this response is to be lost."""

    def __init__(self) -> None:
        self.lose_response = False
        self.replacement: Response | None = None


def lose_response(scope: Scope) -> None:
    """Mark the current request's response as lost; the operation still completes."""
    exchange = scope.get(EXCHANGE_KEY)
    if isinstance(exchange, Exchange):
        exchange.lose_response = True


def fail_after_success(scope: Scope, answer: Response) -> None:
    """Answer `answer` instead of the current request's response; the operation completes."""
    exchange = scope.get(EXCHANGE_KEY)
    if isinstance(exchange, Exchange):
        exchange.replacement = answer


class LosableResponses:
    """Swallow a response marked lost (the server drops the connection) or replaced."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exchange = Exchange()
        scope = {**scope, EXCHANGE_KEY: exchange}

        async def guarded_send(message: Message) -> None:
            if not exchange.lose_response and exchange.replacement is None:
                await send(message)

        await self.app(scope, receive, guarded_send)
        if exchange.replacement is not None and not exchange.lose_response:
            await exchange.replacement(scope, receive, send)
            return
        if not exchange.lose_response:
            return
        drop: Callable[[], None] | None = scope.get(DROP_KEY)
        if drop is None:
            raise ConnectionAbortedError("response lost, but this server cannot drop a connection")
        drop()
        # Let the server notice the closed socket before it thinks of answering for us.
        for _ in range(3):
            await asyncio.sleep(0)


class UvicornConnectionDropper:
    """Outermost ASGI wrapper under uvicorn: give the sandbox a way to close the socket."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        transport = getattr(getattr(send, "__self__", None), "transport", None)
        if scope["type"] == "http" and transport is not None and hasattr(transport, "close"):
            scope = {**scope, DROP_KEY: transport.close}
        await self.app(scope, receive, send)


class SandboxTransport(httpx.AsyncBaseTransport):
    """An in-process httpx transport to a sandbox app, with lost responses as real errors."""

    def __init__(self, app: ASGIApp, *, root_path: str = "") -> None:
        async def dropping_app(scope: Scope, receive: Receive, send: Send) -> None:
            dropped: list[bool] = []
            scope = {**scope, DROP_KEY: lambda: dropped.append(True)}
            await app(scope, receive, send)
            if dropped:
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.")

        self._inner = httpx.ASGITransport(app=dropping_app, root_path=root_path)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # httpx's ASGI transport ignores timeouts; a real socket would not. Give up as a client
        # would: the sandbox's handler is cancelled and does not carry the request out.
        # asyncio.timeout, not wait_for: Python 3.11's wait_for runs the request as a task of
        # its own (1.6 % of a booking's instructions), where a socket's timeout costs nothing.
        timeout = request.extensions.get("timeout", {}).get("read")
        try:
            async with asyncio.timeout(timeout):
                return await self._inner.handle_async_request(request)
        except TimeoutError:
            raise httpx.ReadTimeout("timed out waiting for the sandbox", request=request) from None

    async def aclose(self) -> None:
        await self._inner.aclose()
