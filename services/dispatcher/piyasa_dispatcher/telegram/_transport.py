"""The httpx transport the client uses: HTTP/1.1 keep-alive over asyncio protocols.

httpx's default transport goes through httpcore's connection pool and anyio:
locks, cancellation shields and async-library sniffing on every request cost
more CPU than the HTTP itself, and h11's pure-Python parsing nearly as much
again (measured: httpx's transport about 40% of the dispatcher's time per
message, this one under 15%). A Bot API call is one small JSON POST and one
small JSON answer, so this transport keeps only what that needs: the request
head written from httpx's already validated request, the answer parsed by
httptools (llhttp, the parser uvicorn and Node.js use) straight from an
`asyncio.Protocol`, a LIFO list of idle keep-alive connections per origin, a
semaphore for the connection limit, and httpx's exceptions, so that callers
tell "never left" (connect, pool) from "may have arrived" (read, write,
protocol) exactly as with httpx's own transport. It is an
`httpx.AsyncBaseTransport`: `BotApi` takes any, tests a MockTransport.
"""

from __future__ import annotations

import asyncio
import select
import ssl
import typing
from collections.abc import Callable

import httptools
import httpx

KEEPALIVE_EXPIRY_S = 4.0
"""Idle connections older than this are not reused: shorter than common servers'
keep-alive timeouts (uvicorn's is 5 s), so a request never races the server's close."""

_Origin = tuple[bytes, bytes, int]
_Answer = tuple[int, bytes, list[tuple[bytes, bytes]], bytes]
"""Status, reason phrase, headers, body."""
_FRAMING = (b"content-length", b"transfer-encoding")


def request_head(request: httpx.Request, body: bytes) -> bytes:
    """The request line and headers, from what httpx has validated and normalised
    (the URL is percent-encoded; header values are checked here for line breaks)."""
    lines = [request.method.encode("ascii"), b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
    for name, value in request.headers.raw:
        if name.lower() in _FRAMING:
            continue  # the body is whole here: framed by its length below
        if b"\r" in value or b"\n" in value or b"\r" in name or b"\n" in name:
            raise httpx.LocalProtocolError("a header contains a line break", request=request)
        lines += (name, b": ", value, b"\r\n")
    lines += (b"Content-Length: ", str(len(body)).encode("ascii"), b"\r\n\r\n")
    return b"".join(lines)


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: one request at a time, its answer read whole."""

    def __init__(self, on_lost: Callable[[_Connection], None]) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[_Answer] | None = None
        self._on_lost = on_lost
        self._reason = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._headers_done = False
        self.usable = True
        self.idle_since = 0.0

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not `asyncio.Transport` subclasses: no isinstance check.
        self._transport = typing.cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:
            # Bytes on an idle connection are no answer to anything: the server is closing
            # it (or misbehaving), and it must not carry the next request.
            self.close()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"malformed answer: {exc}"))
            self.close()

    def eof_received(self) -> bool:
        self.usable = False
        framed = any(name.lower() in _FRAMING for name, _ in self._headers)
        if self._waiter is not None and self._headers_done and not framed:
            self._answer()  # a body delimited by the connection's close
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.usable = False
        self._fail(
            httpx.RemoteProtocolError("Server disconnected without sending a response.")
            if exc is None
            else httpx.ReadError(str(exc))
        )
        self._on_lost(self)

    # -- httptools' callbacks --------------------------------------------------------------

    def on_status(self, reason: bytes) -> None:
        self._reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._headers_done = True

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._parser.get_status_code() < 200:
            self._reset()  # a 1xx comes before the answer itself: read on
            return
        if not self._parser.should_keep_alive():
            self.usable = False
        self._answer()

    # -- one exchange ----------------------------------------------------------------------

    async def exchange(self, head: bytes, body: bytes) -> _Answer:
        assert self._transport is not None and self._waiter is None
        waiter: asyncio.Future[_Answer] = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        self._transport.write(head + body)
        return await waiter

    def write_pending(self) -> bool:
        return self._transport is not None and self._transport.get_write_buffer_size() > 0

    def close(self) -> None:
        """Close; at once (abort) when bytes are still unsent: a request given up on."""
        self.usable = False
        transport = self._transport
        if transport is None:
            return
        if transport.get_write_buffer_size() > 0:
            transport.abort()
        else:
            transport.close()

    def readable(self) -> bool:
        """Whether the idle socket has something to read: the server's close (or bytes)
        that arrived with or after the last answer, before the event loop handed them
        to this protocol. Such a connection must not carry the next request."""
        assert self._transport is not None
        sock = self._transport.get_extra_info("socket")
        if sock is None:
            return True
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        return bool(poller.poll(0))

    def _answer(self) -> None:
        waiter = self._waiter
        answer = (self._parser.get_status_code(), self._reason, self._headers, b"".join(self._body))
        self._waiter = None
        self._reset()
        if waiter is not None and not waiter.done():
            waiter.set_result(answer)

    def _fail(self, error: httpx.TransportError) -> None:
        waiter = self._waiter
        self._waiter = None
        self._reset()
        self.usable = False
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def _reset(self) -> None:
        self._reason = b""
        self._headers = []
        self._body = []
        self._headers_done = False


class AsyncioTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 keep-alive connections, at most `max_connections` requests in flight.

    Idle connections to other origins are not counted: the client talks to one."""

    def __init__(
        self,
        *,
        max_connections: int,
        ssl_context: ssl.SSLContext,
        keepalive_expiry_s: float = KEEPALIVE_EXPIRY_S,
    ) -> None:
        self._ssl = ssl_context
        self._expiry = keepalive_expiry_s
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._open: set[_Connection] = set()

    @property
    def open_connections(self) -> int:
        return len(self._open)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            # The parser cannot know an answer has no body unless told the method.
            raise httpx.LocalProtocolError("HEAD is not supported here", request=request)
        timeouts = request.extensions.get("timeout", {})
        body = await request.aread()
        head = request_head(request, body)
        if self._slots.locked():
            try:
                async with asyncio.timeout(timeouts.get("pool")):
                    await self._slots.acquire()
            except TimeoutError:
                raise httpx.PoolTimeout("no connection free in time", request=request) from None
        else:
            await self._slots.acquire()  # free: returns without suspending
        connection: _Connection | None = None
        try:
            origin = (request.url.raw_scheme, request.url.raw_host, request.url.port or 0)
            connection = self._reuse(origin) or await self._connect(origin, request, timeouts)
            try:
                async with asyncio.timeout(timeouts.get("read")):
                    status, reason, headers, content = await connection.exchange(head, body)
            except TimeoutError:
                timeout = httpx.WriteTimeout if connection.write_pending() else httpx.ReadTimeout
                raise timeout("no answer in time", request=request) from None
            except httpx.TransportError as exc:
                exc.request = request
                raise
            response = httpx.Response(
                status_code=status,
                headers=headers,
                content=content,
                extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason},
            )
            if connection.usable:
                connection.idle_since = asyncio.get_running_loop().time()
                self._idle.setdefault(origin, []).append(connection)
                connection = None
            return response
        finally:
            if connection is not None:
                connection.close()
            self._slots.release()

    def _reuse(self, origin: _Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        oldest_usable = asyncio.get_running_loop().time() - self._expiry
        while idle:
            connection = idle.pop()
            if (
                connection.usable
                and connection.idle_since >= oldest_usable
                and not connection.readable()
            ):
                return connection
            connection.close()
        return None

    async def _connect(
        self, origin: _Origin, request: httpx.Request, timeouts: dict[str, float | None]
    ) -> _Connection:
        scheme, raw_host, port = origin
        host = raw_host.decode("ascii")
        tls = scheme == b"https"
        if not port:
            port = 443 if tls else 80
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeouts.get("connect")):
                _, connection = await loop.create_connection(
                    lambda: _Connection(self._open.discard),
                    host,
                    port,
                    ssl=self._ssl if tls else None,
                    server_hostname=host if tls else None,
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(
                f"connecting to {host}:{port} timed out", request=request
            ) from None
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(str(exc), request=request) from None
        self._open.add(connection)
        return connection

    async def aclose(self) -> None:
        for connection in list(self._open):
            connection.close()
        self._idle.clear()
