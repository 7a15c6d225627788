"""The Zoom client over real sockets (NetworkTransport): answers read as httpx reads them, and
each way a call can fail named as the exactly-once logic needs it named: nothing sent (try
again), or maybe carried out (look before creating again)."""

import asyncio
import gzip
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from specialistly.context import build_context
from specialistly.zoom.api import ZoomApi, ZoomMeetings
from specialistly.zoom.errors import ZoomUnavailable
from specialistly.zoom.network import NetworkTransport
from specialistly.zoom.transport import RetryPolicy, ZoomHttpClient
from tests.harness import live_settings

MEETING = {"id": 81234567890, "join_url": "https://zoom.example/j/1", "start_url": "s"}


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


# What the server does with a request: answer it (bytes to write, keep the connection
# open), or not (None: close the connection without a word).
Behaviour = Callable[[Request], Awaitable[tuple[bytes, bool] | None]]


@dataclass
class Server:
    behaviour: Behaviour
    requests: list[Request] = field(default_factory=list)
    connections: int = 0
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    port: int = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line, *rest = head.decode("latin-1").split("\r\n")
                method, target, _ = line.split(" ", 2)
                headers = {
                    name.strip().lower(): value.strip()
                    for name, value in (h.split(":", 1) for h in rest if ":" in h)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                request = Request(method, target, headers, body)
                self.requests.append(request)
                answer = await self.behaviour(request)
                if answer is None:
                    break
                data, keep_open = answer
                writer.write(data)
                await writer.drain()
                if not keep_open:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def answer(status: int, body: bytes, *headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", *headers, "", ""]
    return "\r\n".join(lines).encode() + body


def meeting_answer(*headers: str) -> bytes:
    return answer(201, json.dumps(MEETING).encode(), "Content-Type: application/json", *headers)


@pytest.fixture
async def start() -> AsyncIterator[Callable[[Behaviour], Awaitable[Server]]]:
    servers: list[asyncio.Server] = []

    async def started(behaviour: Behaviour) -> Server:
        server = Server(behaviour)
        listening = await asyncio.start_server(server.serve, "127.0.0.1", 0)
        server.port = listening.sockets[0].getsockname()[1]
        servers.append(listening)
        return server

    yield started
    for listening in servers:
        listening.close()


def meetings(port: int, *, timeout: float = 5.0) -> tuple[ZoomMeetings, ZoomHttpClient]:
    http = ZoomHttpClient(
        transport=NetworkTransport(timeout=timeout, connections=10, keepalive=2.0),
        timeout=timeout,
    )
    api = ZoomApi(http, api_base_url=f"http://127.0.0.1:{port}/v2", retry=RetryPolicy(attempts=1))
    return ZoomMeetings(api), http


async def failed_create(port: int, *, timeout: float = 5.0) -> ZoomUnavailable:
    """The failure a create to `port` meets (the client closed after it)."""
    zoom, http = meetings(port, timeout=timeout)
    try:
        with pytest.raises(ZoomUnavailable) as failed:
            await zoom.create("t", {}, base_url=None)
    finally:
        await http.aclose()
    return failed.value


async def test_a_create_goes_out_as_httpx_built_it_and_its_answer_reads_back(start) -> None:
    async def created(_: Request) -> tuple[bytes, bool]:
        return meeting_answer("Set-Cookie: affinity=abc; Path=/"), True

    server = await start(created)
    zoom, http = meetings(server.port)
    try:
        first = await zoom.create("token-1", {"topic": "Consultation"}, base_url=None)
        await zoom.create("token-2", {"topic": "Consultation"}, base_url=None)
    finally:
        await http.aclose()
    assert first.id == MEETING["id"]
    assert first.join_url == MEETING["join_url"]
    sent = server.requests[0]
    assert (sent.method, sent.target) == ("POST", "/v2/users/me/meetings")
    assert sent.headers["authorization"] == "Bearer token-1"
    assert sent.headers["content-type"] == "application/json"
    assert json.loads(sent.body) == {"topic": "Consultation"}
    # Each call carries its own token and nothing else: no cookie of another's answer.
    assert server.requests[1].headers["authorization"] == "Bearer token-2"
    assert "cookie" not in server.requests[1].headers
    assert server.connections == 1  # the second call went on the kept-alive connection


async def test_a_compressed_answer_is_read_as_httpx_reads_it(start) -> None:
    async def zipped(_: Request) -> tuple[bytes, bool]:
        body = gzip.compress(json.dumps(MEETING).encode())
        return answer(201, body, "Content-Type: application/json", "Content-Encoding: gzip"), True

    server = await start(zipped)
    zoom, http = meetings(server.port)
    try:
        made = await zoom.create("t", {}, base_url=None)
    finally:
        await http.aclose()
    assert made.id == MEETING["id"]


async def test_no_connection_means_nothing_was_sent() -> None:
    failed = await failed_create(_closed_port())
    assert not failed.outcome_unknown  # safe to send again
    assert "ConnectError" in failed.reason


async def test_a_connection_closed_after_the_request_leaves_the_outcome_unknown(start) -> None:
    async def hang_up(_: Request) -> None:
        return None

    server = await start(hang_up)
    failed = await failed_create(server.port)
    assert failed.outcome_unknown
    assert len(server.requests) == 1  # the create was not sent again by the transport


async def test_no_answer_in_time_leaves_the_outcome_unknown(start) -> None:
    async def silent(_: Request) -> None:
        await asyncio.sleep(5)
        return None

    server = await start(silent)
    failed = await failed_create(server.port, timeout=0.3)
    assert failed.outcome_unknown
    assert "ReadTimeout" in failed.reason
    assert len(server.requests) == 1


async def test_a_kept_alive_connection_the_server_closed_is_not_used_again(start) -> None:
    async def created(_: Request) -> tuple[bytes, bool]:
        return meeting_answer(), True

    server = await start(created)
    zoom, http = meetings(server.port)
    try:
        await zoom.create("t", {}, base_url=None)
        for writer in server.writers:  # the server lets its idle connection go
            writer.close()
        await asyncio.sleep(0.1)
        again = await zoom.create("t", {}, base_url=None)
    finally:
        await http.aclose()
    assert again.id == MEETING["id"]
    assert len(server.requests) == 2
    assert server.connections == 2


def _closed_port() -> int:
    """A port nothing listens on (bound a moment, then let go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_proxy_named_by_the_environment_keeps_httpx_own_transport(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """httpx goes through HTTPS_PROXY only with its own transport: the context keeps that one
    there, and takes the network transport everywhere else."""
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    settings = live_settings(f"sqlite:///{tmp_path}/app.db", tmp_path)
    direct = build_context(settings)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    through_proxy = build_context(settings)
    try:
        # httpx keeps the transport it was given, and none when it made its own.
        assert isinstance(direct.zoom_http._transport, NetworkTransport)
        assert not isinstance(through_proxy.zoom_http._transport, NetworkTransport)
    finally:
        await direct.close()
        await through_proxy.close()
