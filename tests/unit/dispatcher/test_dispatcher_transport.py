"""The dispatcher's own HTTP/1.1 transport against real local TCP servers that send raw bytes:
keep-alive reuse and its limits, response framing, and which httpx error each failure becomes
(so that `BotApi` can tell "never left" from "may have arrived").

Every scenario runs on the default asyncio loop and again on uvloop, the production loop
(`test_under_uvloop`), whose transports are not `asyncio.Transport` subclasses.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import socket
import ssl
import struct
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvloop
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from piyasa_dispatcher.telegram import BotApi, TelegramNetworkError
from piyasa_dispatcher.telegram._transport import AsyncioTransport
from tests.support.waiting import eventually

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"
SMALL = 0.2
"""The timeout a test expects to run into: small, so the file runs in a couple of seconds."""
TIMEOUTS: dict[str, float | None] = {"connect": 1.0, "read": 1.0, "write": 1.0, "pool": 1.0}

# -- a raw HTTP server -----------------------------------------------------------------------


@dataclass
class Received:
    """One request as the server read it off the wire."""

    request_line: str
    headers: list[tuple[str, str]]
    body: bytes
    head: bytes

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


Handler = Callable[["Server", asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Server:
    """Counts connections (accepted, open now, most open at once) and what they received."""

    handler: Handler
    port: int = 0
    accepted: int = 0
    open: int = 0
    max_open: int = 0
    requests: list[Received] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def read_request(self, reader: asyncio.StreamReader) -> Received | None:
        """The next request on a connection; None once the client has closed it."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise
            return None
        request_line, *lines = head[:-4].decode("latin-1").split("\r\n")
        headers = [(name, value.strip()) for name, _, value in (x.partition(":") for x in lines)]
        lengths = [int(value) for name, value in headers if name.lower() == "content-length"]
        body = await reader.readexactly(lengths[0]) if lengths else b""
        received = Received(request_line, headers, body, head)
        self.requests.append(received)
        return received

    async def on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        self.accepted += 1
        self.open += 1
        self.max_open = max(self.max_open, self.open)
        try:
            await self.handler(self, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # cancelled: the test is over (asyncio 3.11 logs a cancelled handler as an error)
        finally:
            self.open -= 1
            writer.close()


@asynccontextmanager
async def serve(handler: Handler, tls: ssl.SSLContext | None = None) -> AsyncIterator[Server]:
    """A server on 127.0.0.1 running `handler` for each connection, stopped on exit."""
    server = Server(handler)
    listener = await asyncio.start_server(server.on_connection, "127.0.0.1", 0, ssl=tls)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()
        for task in server.tasks:
            task.cancel()
        await asyncio.gather(*server.tasks, return_exceptions=True)
        await listener.wait_closed()


def answer(
    body: bytes = b'{"ok":true,"result":true}',
    *,
    status: bytes = b"200 OK",
    headers: bytes = b"Content-Type: application/json\r\n",
    version: bytes = b"HTTP/1.1",
) -> bytes:
    """A whole response framed by its Content-Length."""
    length = b"Content-Length: %d\r\n" % len(body)
    return version + b" " + status + b"\r\n" + headers + length + b"\r\n" + body


async def answer_one(
    server: Server,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    response: bytes | None = None,
) -> None:
    """Reads one request and answers it (200 by default)."""
    await server.read_request(reader)
    writer.write(answer() if response is None else response)
    await writer.drain()


async def answer_every_request(
    server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """A well-behaved keep-alive server."""
    while await server.read_request(reader) is not None:
        writer.write(answer())
        await writer.drain()


# -- helpers ------------------------------------------------------------------------------


def transport(
    *,
    max_connections: int = 10,
    keepalive_expiry_s: float = 4.0,
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncioTransport:
    return AsyncioTransport(
        max_connections=max_connections,
        ssl_context=ssl_context or ssl.create_default_context(),
        keepalive_expiry_s=keepalive_expiry_s,
    )


def request(
    port: int,
    path: str = "/bot1:x/getMe",
    *,
    body: bytes = b"{}",
    scheme: str = "http",
    headers: dict[str, str] | None = None,
    **timeouts: float,
) -> httpx.Request:
    return httpx.Request(
        "POST",
        f"{scheme}://127.0.0.1:{port}{path}",
        content=body,
        headers={"Content-Type": "application/json", **(headers or {})},
        extensions={"timeout": {**TIMEOUTS, **timeouts}},
    )


async def send(client: AsyncioTransport, outgoing: httpx.Request) -> httpx.Response:
    response = await client.handle_async_request(outgoing)
    await response.aread()
    return response


async def until(condition: Callable[[], bool], timeout_s: float = 2.0) -> None:
    """Waits for `condition` to hold, failing after `timeout_s`."""
    await eventually(condition, timeout=timeout_s, interval=0.001)


def refused_port() -> socket.socket:
    """A socket bound to a port but not listening: connecting to its port is refused."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


@dataclass
class Tls:
    server: ssl.SSLContext
    client: ssl.SSLContext


def self_signed_tls() -> Tls:
    """A server context with a fresh self-signed certificate for 127.0.0.1, and a client
    context that trusts exactly that certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "cert.pem").write_bytes(cert_pem)
        (Path(directory) / "key.pem").write_bytes(key_pem)
        server.load_cert_chain(Path(directory) / "cert.pem", Path(directory) / "key.pem")
    return Tls(server=server, client=ssl.create_default_context(cadata=cert_pem.decode()))


# -- keep-alive ----------------------------------------------------------------------------


async def test_sequential_calls_share_one_connection_and_are_well_formed() -> None:
    """Twenty BotApi calls go over one TCP connection, each a well-formed HTTP/1.1 POST:
    request line, Host, Content-Type, one Content-Length counting bytes, the JSON body."""

    async def handler(
        server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while (received := await server.read_request(reader)) is not None:
            text = json.loads(received.body)["text"]
            writer.write(answer(json.dumps({"ok": True, "result": {"echo": text}}).encode()))
            await writer.drain()

    async with serve(handler) as server:
        client = transport()
        api = BotApi(f"http://127.0.0.1:{server.port}", transport=client)
        texts = [f"merhaba {i} ğüşİ 📈" for i in range(20)]
        for text in texts:
            result = await api.call(TOKEN, "sendMessage", {"chat_id": -100, "text": text})
            assert result == {"echo": text}

        assert server.accepted == 1 and client.open_connections == 1
        assert len(server.requests) == 20
        for received, text in zip(server.requests, texts, strict=True):
            assert received.request_line == f"POST /bot{TOKEN}/sendMessage HTTP/1.1"
            assert all(
                "\n" not in line and "\r" not in line
                for line in received.head.decode()[:-4].split("\r\n")
            )
            assert received.values("Host") == [f"127.0.0.1:{server.port}"]
            assert received.values("Content-Type") == ["application/json"]
            assert received.values("Content-Length") == [str(len(received.body))]
            assert received.values("Transfer-Encoding") == []
            assert json.loads(received.body) == {"chat_id": -100, "text": text}
        await api.aclose()


async def test_query_string_and_a_large_body_arrive_intact() -> None:
    """The request target keeps its percent-encoded path and query; a 3 MB body arrives whole
    with its exact Content-Length, and the connection is reused afterwards."""
    body = bytes(range(256)) * (3 * 4096)
    async with serve(answer_every_request) as server:
        client = transport()
        first = await send(
            client, request(server.port, "/bot1:x/getFile?file_id=a b&x=ç", body=body)
        )
        second = await send(client, request(server.port))

        assert (first.status_code, second.status_code) == (200, 200)
        big, small = server.requests
        assert big.request_line == "POST /bot1:x/getFile?file_id=a%20b&x=%C3%A7 HTTP/1.1"
        assert big.values("Content-Length") == [str(len(body))] and big.body == body
        assert small.body == b"{}"
        assert server.accepted == 1
        await client.aclose()


async def test_connection_close_or_http10_means_a_new_connection_next_time() -> None:
    """`Connection: close`, or an HTTP/1.0 answer without keep-alive, is not reused even though
    the server leaves it open; HTTP/1.0 with `Connection: keep-alive` is."""

    async def two_requests(response: bytes, connections: int) -> None:
        async def handler(
            server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            while await server.read_request(reader) is not None:
                writer.write(response)  # and keeps the connection open
                await writer.drain()

        async with serve(handler) as server:
            client = transport()
            first = await send(client, request(server.port))
            second = await send(client, request(server.port))

            assert (first.status_code, second.status_code) == (200, 200)
            assert server.accepted == connections, response
            if connections == 2:
                await until(lambda: server.open == 0 and client.open_connections == 0)
            await client.aclose()

    await two_requests(answer(headers=b"Connection: close\r\n"), 2)
    await two_requests(answer(version=b"HTTP/1.0"), 2)
    await two_requests(answer(version=b"HTTP/1.0", headers=b"Connection: keep-alive\r\n"), 1)


async def test_an_idle_connection_the_server_closed_is_not_reused() -> None:
    """The server closes a keep-alive connection while it is idle; once the client has seen
    the close, the next request goes out on a fresh connection and succeeds."""
    close_now = asyncio.Event()

    async def handler(
        server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await answer_one(server, reader, writer)
        if server.accepted == 1:
            await close_now.wait()
            return  # closes the connection
        await answer_every_request(server, reader, writer)

    async with serve(handler) as server:
        client = transport()
        assert (await send(client, request(server.port))).status_code == 200
        assert client.open_connections == 1

        close_now.set()
        await until(lambda: client.open_connections == 0)
        assert (await send(client, request(server.port))).status_code == 200

        assert server.accepted == 2 and len(server.requests) == 2
        await client.aclose()


async def test_a_connection_the_server_closed_with_its_answer_is_not_reused() -> None:
    """A server that closes right after each answer, without `Connection: close` (HTTP allows
    a close at any time): the close arrives with the answer, so the next request, sent at
    once, must go out on a fresh connection and succeed (httpx's own transport checks an idle
    connection for EOF before reusing it and passes this)."""

    async def handler(
        server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await answer_one(server, reader, writer)
        # returning closes the connection

    async with serve(handler) as server:
        client = transport()
        statuses = [(await send(client, request(server.port))).status_code for _ in range(3)]

        assert statuses == [200] * 3
        assert server.accepted == 3 and len(server.requests) == 3
        await client.aclose()


async def test_bytes_on_an_idle_connection_retire_it() -> None:
    """A server that sends something unasked on an idle connection (here a 408, without
    closing) gets that connection closed by the client, and the next request a fresh one."""
    sent_408 = asyncio.Event()

    async def handler(
        server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await answer_one(server, reader, writer)
        if server.accepted == 1:
            await sent_408.wait()
            writer.write(answer(b"", status=b"408 Request Timeout", headers=b""))
            await writer.drain()
        await answer_every_request(server, reader, writer)

    async with serve(handler) as server:
        client = transport()
        assert (await send(client, request(server.port))).status_code == 200
        sent_408.set()
        await until(lambda: client.open_connections == 0)

        response = await send(client, request(server.port))

        assert response.status_code == 200
        assert server.accepted == 2 and len(server.requests) == 2
        await until(lambda: server.open == 1)  # the first connection was closed by the client
        await client.aclose()


async def test_an_expired_idle_connection_is_closed_and_replaced() -> None:
    """With a zero keep-alive expiry no idle connection is reused: the next request opens a
    new one and the old one is closed."""
    async with serve(answer_every_request) as server:
        client = transport(keepalive_expiry_s=0.0)
        assert (await send(client, request(server.port))).status_code == 200
        answered_at = asyncio.get_running_loop().time()
        await until(lambda: asyncio.get_running_loop().time() > answered_at)

        assert (await send(client, request(server.port))).status_code == 200

        assert server.accepted == 2
        await until(lambda: server.open == 1 and client.open_connections == 1)
        await client.aclose()


# -- response framing ----------------------------------------------------------------------


async def test_a_chunked_answer_is_read_whole_and_the_connection_reused() -> None:
    """A chunked body written in pieces (with a chunk extension and a trailer) is read whole,
    and the connection carries the next request."""

    async def handler(
        server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while await server.read_request(reader) is not None:
            pieces = [
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n",
                b"Transfer-Encoding: chunked\r\n\r\n",
                b'6;ext=1\r\n{"ok":\r\n',
                b"5\r\ntrue,\r\n",
                b'e\r\n"result":"ab"}\r\n',
                b"0\r\nX-Trailer: t\r\n\r\n",
            ]
            for piece in pieces:
                writer.write(piece)
                await writer.drain()

    async with serve(handler) as server:
        client = transport()
        first = await send(client, request(server.port))
        second = await send(client, request(server.port))

        assert first.content == second.content == b'{"ok":true,"result":"ab"}'
        assert server.accepted == 1
        await client.aclose()


async def test_a_body_delimited_by_the_close_is_read_whole() -> None:
    """No Content-Length and no Transfer-Encoding: the body is everything up to the server's
    close; the next request opens a new connection."""
    body = b'{"ok":true,"result":"' + b"x" * 100_000 + b'"}'

    async def handler(
        server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n")
        for start in range(0, len(body), 30_000):
            writer.write(body[start : start + 30_000])
            await writer.drain()
        # returning closes the connection: that ends the body

    async with serve(handler) as server:
        client = transport()
        first = await send(client, request(server.port))
        second = await send(client, request(server.port))

        assert first.content == second.content == body
        assert server.accepted == 2
        await client.aclose()


async def test_informational_answers_before_the_answer_are_skipped() -> None:
    """A `100 Continue` and a `103 Early Hints` before the answer are skipped: the response is
    the final one, with only its own headers, and the connection is reused."""

    async def handler(
        server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while await server.read_request(reader) is not None:
            writer.write(b"HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n")
            await writer.drain()
            writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n")
            await writer.drain()
            writer.write(answer(b'{"ok":true}', status=b"201 Created"))
            await writer.drain()

    async with serve(handler) as server:
        client = transport()
        for _ in range(2):
            response = await send(client, request(server.port))
            assert response.status_code == 201
            assert response.extensions["reason_phrase"] == b"Created"
            assert response.content == b'{"ok":true}'
            assert "x-interim" not in response.headers and "link" not in response.headers
        assert server.accepted == 1
        await client.aclose()


# -- failures ------------------------------------------------------------------------------


async def test_a_close_without_an_answer_is_a_protocol_error_that_may_have_been_sent() -> None:
    """The server reads the request and closes: `RemoteProtocolError`, and through BotApi a
    network error with `sent=True` (the request reached the server)."""

    async def handler(
        server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await server.read_request(reader)

    async with serve(handler) as server:
        client = transport()
        with pytest.raises(httpx.RemoteProtocolError):
            await send(client, request(server.port))

        api = BotApi(f"http://127.0.0.1:{server.port}", transport=client)
        with pytest.raises(TelegramNetworkError) as caught:
            await api.call(TOKEN, "sendMessage", {"chat_id": 1, "text": "x"})
        assert caught.value.sent is True
        assert caught.value.reason == "RemoteProtocolError"
        assert TOKEN not in str(caught.value)
        assert len(server.requests) == 2
        await api.aclose()


MALFORMED = [
    b"SSH-2.0-OpenSSH_9.6\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",  # truncated, then closed
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
]


@pytest.mark.parametrize("reply", MALFORMED, ids=["not-http", "truncated", "bad-chunk"])
async def test_a_malformed_answer_is_a_protocol_error(reply: bytes) -> None:
    """An answer that is not HTTP, stops short of its Content-Length, or has a broken chunk:
    `RemoteProtocolError`, and the connection is not reused."""

    async def handler(
        server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if server.accepted > 1:
            return await answer_every_request(server, reader, writer)
        await answer_one(server, reader, writer, reply)

    async with serve(handler) as server:
        client = transport()
        with pytest.raises(httpx.RemoteProtocolError):
            await send(client, request(server.port))
        assert (await send(client, request(server.port))).status_code == 200
        assert server.accepted == 2
        await client.aclose()


async def test_a_reset_connection_is_a_read_error() -> None:
    """The server resets the connection (RST) after reading the request: `ReadError`, and
    through BotApi `sent=True`."""

    async def handler(
        server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await server.read_request(reader)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async with serve(handler) as server:
        client = transport()
        with pytest.raises(httpx.ReadError):
            await send(client, request(server.port))

        api = BotApi(f"http://127.0.0.1:{server.port}", transport=client)
        with pytest.raises(TelegramNetworkError) as caught:
            await api.call(TOKEN, "sendMessage", {"chat_id": 1, "text": "x"})
        assert (caught.value.reason, caught.value.sent) == ("ReadError", True)
        await api.aclose()


async def test_a_refused_connection_is_a_connect_error_never_sent() -> None:
    """Nothing listening: `ConnectError`, through BotApi `sent=False`; the failed attempts do
    not keep the only connection slot."""
    with refused_port() as sock:
        port = sock.getsockname()[1]
        client = transport(max_connections=1)
        with pytest.raises(httpx.ConnectError):
            await send(client, request(port))

        api = BotApi(f"http://127.0.0.1:{port}", transport=client)
        with pytest.raises(TelegramNetworkError) as caught:
            await api.call(TOKEN, "sendMessage", {"chat_id": 1, "text": "x"})
        assert (caught.value.reason, caught.value.sent) == ("ConnectError", False)
        assert client.open_connections == 0

    async with serve(answer_every_request) as server:
        response = await send(client, request(server.port, pool=SMALL))
        assert response.status_code == 200
    await client.aclose()


async def test_no_answer_is_a_read_timeout_and_the_connection_is_dropped() -> None:
    """A server that never answers: `ReadTimeout` after the read timeout (not before, not much
    later), the connection is closed, and the next request gets a new one."""

    async def handler(
        server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if server.accepted > 1:
            return await answer_every_request(server, reader, writer)
        await server.read_request(reader)
        await reader.read()  # silent until the client closes

    async with serve(handler) as server:
        client = transport()
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            await send(client, request(server.port, read=SMALL))
        assert SMALL <= time.monotonic() - started < SMALL + 0.5
        await until(lambda: server.open == 0 and client.open_connections == 0)

        assert (await send(client, request(server.port))).status_code == 200
        assert server.accepted == 2
        await client.aclose()


async def test_no_answer_through_botapi_may_have_been_sent() -> None:
    """Through BotApi with a small timeout, a server that never answers is a network error
    with `sent=True`: the request arrived."""

    async def handler(
        server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await server.read_request(reader)
        await reader.read()

    async with serve(handler) as server:
        api = BotApi(f"http://127.0.0.1:{server.port}", timeout_s=SMALL, transport=transport())
        with pytest.raises(TelegramNetworkError) as caught:
            await api.call(TOKEN, "sendMessage", {"chat_id": 1, "text": "x"})
        assert (caught.value.reason, caught.value.sent) == ("ReadTimeout", True)
        assert len(server.requests) == 1
        await api.aclose()


async def test_a_request_the_server_does_not_read_is_a_write_timeout_and_is_dropped() -> None:
    """A body larger than the socket buffers to a server that reads nothing: `WriteTimeout`
    (the request is still being written when the time is up), and the connection is gone
    at once, its unsent bytes discarded: it no longer holds a slot, so it must not stay open."""
    read_nothing = asyncio.Event()

    async def handler(
        server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await read_nothing.wait()

    async with serve(handler) as server:
        client = transport()
        with pytest.raises(httpx.WriteTimeout):
            await send(client, request(server.port, body=b"x" * 32_000_000, read=SMALL))
        with suppress(TimeoutError):
            await until(lambda: client.open_connections == 0, timeout_s=0.3)
        assert client.open_connections == 0, "still open: close() waits to flush the unsent body"
        await client.aclose()


async def test_a_cancelled_request_frees_its_slot_and_its_connection() -> None:
    """Cancelling a request waiting for its answer closes that connection (its answer could
    arrive later) and frees the only slot for the next request."""
    received = asyncio.Event()

    async def handler(
        server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if server.accepted > 1:
            return await answer_every_request(server, reader, writer)
        await server.read_request(reader)
        received.set()
        await reader.read()

    async with serve(handler) as server:
        client = transport(max_connections=1)
        pending = asyncio.create_task(send(client, request(server.port)))
        await received.wait()
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending

        response = await send(client, request(server.port, pool=SMALL))

        assert response.status_code == 200
        assert server.accepted == 2
        await until(lambda: server.open == 1)
        await client.aclose()


# -- the connection limit ------------------------------------------------------------------


async def test_at_most_max_connections_are_open_and_all_requests_succeed() -> None:
    """Five concurrent requests with `max_connections=2` to a server holding each answer:
    the server sees two requests in flight and never more than two connections; once it
    answers, all five succeed over those two connections."""
    release = asyncio.Event()
    held = 0

    async def handler(
        server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        nonlocal held
        while await server.read_request(reader) is not None:
            held += 1
            await release.wait()
            writer.write(answer())
            await writer.drain()

    async with serve(handler) as server:
        client = transport(max_connections=2)
        calls = [asyncio.create_task(send(client, request(server.port))) for _ in range(5)]
        await until(lambda: held == 2)
        assert server.open == 2 and not any(call.done() for call in calls)

        release.set()
        responses = await asyncio.gather(*calls)

        assert [r.status_code for r in responses] == [200] * 5
        assert len(server.requests) == 5
        assert server.max_open == 2 and server.accepted == 2
        await client.aclose()


async def test_no_free_connection_in_time_is_a_pool_timeout_never_sent() -> None:
    """With the only connection busy, a request with a small pool timeout gets `PoolTimeout`
    (through BotApi `sent=False`) and nothing reaches the server; the busy one still succeeds."""
    release = asyncio.Event()
    arrived = asyncio.Event()

    async def handler(
        server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while await server.read_request(reader) is not None:
            arrived.set()
            await release.wait()
            writer.write(answer())
            await writer.drain()

    async with serve(handler) as server:
        client = transport(max_connections=1)
        busy = asyncio.create_task(send(client, request(server.port)))
        await arrived.wait()

        with pytest.raises(httpx.PoolTimeout):
            await send(client, request(server.port, pool=SMALL))
        api = BotApi(f"http://127.0.0.1:{server.port}", timeout_s=SMALL, transport=client)
        with pytest.raises(TelegramNetworkError) as caught:
            await api.call(TOKEN, "sendMessage", {"chat_id": 1, "text": "x"})
        assert (caught.value.reason, caught.value.sent) == ("PoolTimeout", False)
        assert len(server.requests) == 1 and server.accepted == 1

        release.set()
        assert (await busy).status_code == 200
        assert (await send(client, request(server.port, pool=SMALL))).status_code == 200
        await client.aclose()


# -- what never leaves ---------------------------------------------------------------------


BROKEN = ["a\r\nX-Injected: 1", "a\nX-Injected: 1", "a\rb"]


@pytest.mark.parametrize("value", BROKEN, ids=["crlf", "lf", "cr"])
async def test_a_header_with_a_line_break_is_refused_before_anything_is_sent(value: str) -> None:
    """A header value with CR or LF is `LocalProtocolError`: nothing reaches the server, not
    even on an open keep-alive connection, and that connection carries the next request."""
    async with serve(answer_every_request) as server:
        client = transport(max_connections=1)
        assert (await send(client, request(server.port))).status_code == 200

        with pytest.raises(httpx.LocalProtocolError):
            await send(client, request(server.port, headers={"X-Note": value}))

        assert (await send(client, request(server.port, pool=SMALL))).status_code == 200
        assert len(server.requests) == 2 and server.accepted == 1
        assert all(
            r.values("X-Injected") == [] and r.values("X-Note") == [] for r in server.requests
        )
        await client.aclose()


# -- TLS -----------------------------------------------------------------------------------


async def test_https_to_a_trusted_self_signed_server_reuses_its_connection() -> None:
    """HTTPS to 127.0.0.1 with a certificate the client's context trusts: requests succeed over
    one TLS connection, and a request left unanswered is a `ReadTimeout`."""
    tls = self_signed_tls()

    async def handler(
        server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while (received := await server.read_request(reader)) is not None:
            if received.body == b"silence":
                await reader.read()
                return
            writer.write(answer())
            await writer.drain()

    async with serve(handler, tls=tls.server) as server:
        client = transport(ssl_context=tls.client)
        for _ in range(3):
            response = await send(client, request(server.port, scheme="https"))
            assert response.status_code == 200
        assert server.accepted == 1
        assert server.requests[0].values("Host") == [f"127.0.0.1:{server.port}"]

        with pytest.raises(httpx.ReadTimeout):
            await send(client, request(server.port, scheme="https", body=b"silence", read=SMALL))
        await client.aclose()


async def test_https_to_an_untrusted_server_is_a_connect_error() -> None:
    """A certificate the client's context does not trust: `ConnectError` (never sent)."""
    tls = self_signed_tls()
    async with serve(answer_every_request, tls=tls.server) as server:
        client = transport()  # the system's CAs only
        with pytest.raises(httpx.ConnectError):
            await send(client, request(server.port, scheme="https"))
        assert server.requests == []
        await client.aclose()


# -- the same on uvloop --------------------------------------------------------------------

Scenario = Callable[[], Coroutine[Any, Any, None]]
SCENARIOS: list[Scenario] = [
    test_sequential_calls_share_one_connection_and_are_well_formed,
    test_query_string_and_a_large_body_arrive_intact,
    test_connection_close_or_http10_means_a_new_connection_next_time,
    test_an_idle_connection_the_server_closed_is_not_reused,
    test_a_connection_the_server_closed_with_its_answer_is_not_reused,
    test_bytes_on_an_idle_connection_retire_it,
    test_an_expired_idle_connection_is_closed_and_replaced,
    test_a_chunked_answer_is_read_whole_and_the_connection_reused,
    test_a_body_delimited_by_the_close_is_read_whole,
    test_informational_answers_before_the_answer_are_skipped,
    test_a_close_without_an_answer_is_a_protocol_error_that_may_have_been_sent,
    *(partial(test_a_malformed_answer_is_a_protocol_error, reply) for reply in MALFORMED),
    test_a_reset_connection_is_a_read_error,
    test_a_refused_connection_is_a_connect_error_never_sent,
    test_no_answer_is_a_read_timeout_and_the_connection_is_dropped,
    test_no_answer_through_botapi_may_have_been_sent,
    test_a_request_the_server_does_not_read_is_a_write_timeout_and_is_dropped,
    test_a_cancelled_request_frees_its_slot_and_its_connection,
    test_at_most_max_connections_are_open_and_all_requests_succeed,
    test_no_free_connection_in_time_is_a_pool_timeout_never_sent,
    *(
        partial(test_a_header_with_a_line_break_is_refused_before_anything_is_sent, v)
        for v in BROKEN
    ),
    test_https_to_a_trusted_self_signed_server_reuses_its_connection,
    test_https_to_an_untrusted_server_is_a_connect_error,
]


def scenario_id(scenario: Scenario) -> str:
    if isinstance(scenario, partial):
        return f"{scenario.func.__name__.removeprefix('test_')}[{scenario.args[0]!r}]"
    return scenario.__name__.removeprefix("test_")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
def test_under_uvloop(scenario: Scenario) -> None:
    """Each scenario above holds on uvloop too (its own transports, TLS and EOF handling)."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(scenario())
