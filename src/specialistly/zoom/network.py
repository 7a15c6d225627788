"""The Zoom client's connections over the network: httpx's API, aiohttp's connection pool.

httpx's own transport (httpcore) walks every pooled connection twice for each request and
polls the socket of each idle one: 13 % of a PostgreSQL `serve`'s samples under load
(bench/README.md, round 16), where a booking's call to Zoom goes over the network. aiohttp's
pool hears from the event loop when a server closes a connection, and parses HTTP in C. The
client stays httpx's (its API, and its in-process transport for the mounted sandbox and the
tests); only the connections are aiohttp's.

What a failure says about the request, which decides whether a create may be sent again
(`zoom.transport._once`):
- nothing was sent: `httpx.ConnectError` (refused, no such host, TLS failed) or
  `httpx.ConnectTimeout` (no connection in time, a pooled one or a new one);
- the request may have reached Zoom: `httpx.ReadTimeout` (no answer in time) or
  `httpx.RemoteProtocolError` (the connection broke, or the answer made no sense).
aiohttp sends a request again by itself only when a kept-alive connection turns out closed,
and only for the methods HTTP calls idempotent (GET, PUT, DELETE, …), never for a POST.

Where the environment names a proxy (HTTPS_PROXY and the like), the Zoom client keeps
httpx's own transport, which goes through it as it always has (`proxied`).
"""

import asyncio
import urllib.request

import aiohttp
import httpx

# Headers aiohttp writes itself from the request it sends.
_OWN_HEADERS = frozenset({"host", "content-length"})


class NetworkTransport(httpx.AsyncBaseTransport):
    """Send httpx's requests through one aiohttp session (made in the loop that first uses
    it), with up to `connections` open and each kept alive `keepalive` seconds when idle."""

    def __init__(self, *, timeout: float, connections: int, keepalive: float) -> None:
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=timeout, sock_connect=timeout, sock_read=timeout
        )
        self._connections, self._keepalive = connections, keepalive
        # The certificates httpx would trust (certifi's, or SSL_CERT_FILE / SSL_CERT_DIR).
        self._tls = httpx.create_ssl_context()
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _open(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop:
            # A session belongs to its event loop: one from a loop since closed is dropped.
            self._session, self._loop = self._new_session(), loop
        return self._session

    def _new_session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=self._connections, keepalive_timeout=self._keepalive, ssl=self._tls
            ),
            timeout=self._timeout,
            # httpx decodes the body by its Content-Encoding, as it would its own transport's.
            auto_decompress=False,
            # Cookies are httpx's client's to keep (the Zoom client keeps none), and a proxy
            # the environment names leaves the calls to httpx's own transport (`proxied`).
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
            # Every header the request has comes from httpx; aiohttp adds none of its own.
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._open()
        body = await request.aread()
        headers = [
            (name, value)
            for name, value in request.headers.multi_items()
            if name not in _OWN_HEADERS
        ]
        try:
            async with session.request(
                request.method,
                str(request.url),
                headers=headers,
                data=body or None,
                allow_redirects=False,
            ) as answer:
                content = await answer.read()
                status, raw_headers = answer.status, answer.raw_headers
        except aiohttp.ClientConnectorError as exc:  # no connection: nothing was sent
            raise httpx.ConnectError(_reason(exc), request=request) from exc
        except aiohttp.ConnectionTimeoutError as exc:  # none in time: nothing was sent
            raise httpx.ConnectTimeout(_reason(exc), request=request) from exc
        except TimeoutError as exc:  # aiohttp's SocketTimeoutError among them
            raise httpx.ReadTimeout(_reason(exc), request=request) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise httpx.RemoteProtocolError(_reason(exc), request=request) from exc
        return httpx.Response(status, headers=list(raw_headers), content=content, request=request)

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and self._loop is _running_loop():
            await session.close()


def proxied() -> bool:
    """Whether the environment names a proxy for HTTP(S) (`*_proxy`, either case)."""
    return bool({"http", "https", "all"} & set(urllib.request.getproxies()))


def _reason(exc: BaseException) -> str:
    """The failure's kind as its message: what the callers say of it (never a URL)."""
    return type(exc).__name__


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
