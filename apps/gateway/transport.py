"""HTTP/1.1 to upstream APIs: a small keep-alive client on asyncio and httptools. Pure: no Django.

Why not httpx
    The gateway's upstream hop is on every tool call's latency path. httpx (through httpcore
    and the pure-Python h11 parser) spent about 450 µs of CPU per request on this machine's
    loopback benchmark, against about 40 µs for an asyncio protocol feeding llhttp (httptools,
    the parser uvicorn already uses to read our own requests). Everything around the exchange
    (request building, destination checks, redirects, the overall deadline) stays in
    upstream.py; this module only moves bytes.

What it does
    * One request per connection at a time; idle connections are kept per destination
      (scheme, connected address, port, TLS server name) for ``idle_seconds`` and reused,
      newest first. A connection the server closed while idle is noticed by the event loop
      (``connection_lost``) and never handed out.
    * A reused connection that the server closes before sending any byte of the response
      (the keep-alive race) is retried once on a new connection, for idempotent methods only:
      a POST may have been received, so it is never sent twice.
    * The response body is cut at ``limit`` bytes (``ResponseTooLarge``), decoded bytes
      included (gzip and deflate are decoded, under the same cap); the header section at
      ``MAX_HEADER_BYTES`` and ``MAX_HEADERS``. Informational (1xx) responses are skipped.
    * TLS with certificate and host name verification (certifi's CA bundle, as httpx does, or
      the one ``upstream_ssl_context`` builds from ``MCP_UPSTREAM_CA_BUNDLE``), SNI and
      verification against the URL's host even though the socket connects to the checked,
      pinned address.
    * No cookies, no proxies from the environment, no redirects (upstream.py decides), no
      request pipelining. Cancellation (the caller's deadline) closes the connection.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httptools

MAX_HEADER_BYTES = 64 * 1024
MAX_HEADERS = 200
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
_FORBIDDEN_BYTES = (b"\r", b"\n", b"\x00")


class TransportError(Exception):
    """The exchange failed: cannot connect, the connection broke, or the answer is not HTTP."""


class ResponseTooLarge(Exception):
    """The response (header section or body) is larger than allowed."""


@dataclass
class UpstreamResponse:
    status_code: int
    reason_phrase: str
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes


@dataclass(frozen=True)
class Destination:
    scheme: str  # "http" | "https"
    address: str  # the checked IP address the socket connects to
    port: int
    server_name: str  # TLS SNI and certificate host name (the URL's host)


SYSTEM_STORE = "system"


def upstream_ssl_context(ca_bundle: str = "") -> ssl.SSLContext:
    """The TLS context for upstream APIs, from ``MCP_UPSTREAM_CA_BUNDLE``.

    * "" (unset): certifi's CA bundle, as httpx uses;
    * ``system``: the operating system's trust store through truststore (where an on-premise
      private CA is usually installed);
    * a path to a PEM file or a directory of hashed certificates: certifi's bundle plus these
      CAs (an upstream behind a private CA, public upstreams still verified).

    Certificate and host name verification stay on in every case. A path that does not exist
    or holds no certificate raises (``ValueError``): the gateway does not start with a trust
    setting it cannot honour."""
    import certifi

    value = ca_bundle.strip()
    if value == SYSTEM_STORE:
        import truststore

        return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context = ssl.create_default_context(cafile=certifi.where())
    if value:
        path = Path(value)
        try:
            if path.is_dir():
                context.load_verify_locations(capath=str(path))
            else:
                context.load_verify_locations(cafile=str(path))
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"MCP_UPSTREAM_CA_BUNDLE={value!r} cannot be used as a CA bundle ({exc}).") from None
    return context


class _Exchange:
    """Parser callbacks and the state of one response."""

    __slots__ = ("method", "limit", "parser", "future", "status", "reason", "headers", "header_bytes", "body",
                 "size", "headers_done", "complete", "trailing", "received_any", "failure", "keep_alive")

    def __init__(self, method: str, limit: int, future: asyncio.Future):
        self.method = method
        self.limit = limit
        self.future = future
        self.received_any = False
        self.failure: BaseException | None = None
        self.keep_alive = False
        self.complete = False
        self.trailing = False  # bytes after the answer: the connection cannot be reused
        self.parser = httptools.HttpResponseParser(self)
        self.on_message_begin()

    # httptools callbacks. They never raise (an exception would surface as a parser error):
    # problems are recorded in ``failure`` and acted on once feed_data returns.
    def on_message_begin(self) -> None:
        if self.complete:
            self.trailing = True
            return
        # Also after an informational (1xx) answer: the real one follows on the same parser.
        self.status, self.reason, self.headers, self.header_bytes = 0, b"", [], 0
        self.body, self.size, self.headers_done = [], 0, False

    def on_status(self, status: bytes) -> None:
        if not self.trailing:
            self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.trailing:
            return
        self.header_bytes += len(name) + len(value) + 4
        if len(self.headers) >= MAX_HEADERS or self.header_bytes > MAX_HEADER_BYTES:
            self.failure = self.failure or ResponseTooLarge("The upstream response headers are too large.")
            return
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self.trailing:
            return
        self.headers_done = True
        self.status = self.parser.get_status_code()
        if self.method == "HEAD" and self.status >= 200:
            self.complete = True  # no body follows an answer to HEAD, whatever Content-Length says
            self.keep_alive = self.parser.should_keep_alive()
            return
        for name, value in self.headers:
            if name.lower() == b"content-length" and value.strip().isdigit() and int(value) > self.limit:
                # Refused before any of the body is read.
                self.failure = self.failure or ResponseTooLarge("The upstream response body is too large.")

    def on_body(self, chunk: bytes) -> None:
        if self.trailing or self.complete:
            return
        self.size += len(chunk)
        if self.size > self.limit:
            self.failure = self.failure or ResponseTooLarge("The upstream response body is too large.")
            return
        self.body.append(chunk)

    def on_message_complete(self) -> None:
        if self.trailing or self.complete or 100 <= self.status < 200:
            return  # after a 1xx answer, wait for the final one
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()

    def feed(self, data: bytes) -> bool:
        """Parse ``data``; True when the exchange is over (answer or failure)."""
        self.received_any = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if not self.complete:
                self.failure = self.failure or TransportError("The upstream API switched protocols.")
        except httptools.HttpParserError as exc:
            if not self.complete:
                self.failure = self.failure or TransportError(
                    f"The upstream API did not answer in HTTP/1.1 ({exc}).")
        if self.trailing or self.failure is not None:
            self.keep_alive = False
        return self.complete or self.failure is not None

    def result(self) -> UpstreamResponse:
        headers: dict[str, str] = {}
        for raw_name, raw_value in self.headers:
            name = raw_name.decode("latin-1").lower()
            value = raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        body = b"".join(self.body)
        encoding = headers.get("content-encoding", "").strip().lower()
        if body and encoding in ("gzip", "x-gzip", "deflate"):
            body = _decoded(body, encoding, self.limit)
        return UpstreamResponse(status_code=self.status, reason_phrase=self.reason.decode("latin-1").strip(),
                                headers=headers, body=body)


def _decoded(body: bytes, encoding: str, limit: int) -> bytes:
    """gzip/deflate content decoded, refusing more than ``limit`` decoded bytes."""
    if encoding == "deflate":
        try:
            return _inflate(zlib.decompressobj(), body, limit)
        except zlib.error:  # raw deflate without the zlib header, as some servers send
            try:
                return _inflate(zlib.decompressobj(-zlib.MAX_WBITS), body, limit)
            except zlib.error as exc:
                raise TransportError(f"The upstream response could not be decompressed ({exc}).") from None
    try:
        return _inflate(zlib.decompressobj(zlib.MAX_WBITS | 16), body, limit)
    except zlib.error as exc:
        raise TransportError(f"The upstream response could not be decompressed ({exc}).") from None


def _inflate(decompressor, body: bytes, limit: int) -> bytes:
    out = decompressor.decompress(body, limit + 1)
    if len(out) > limit or decompressor.unconsumed_tail:
        raise ResponseTooLarge("decoded body")
    out += decompressor.flush()
    if len(out) > limit:
        raise ResponseTooLarge("decoded body")
    return out


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection; at most one exchange at a time."""

    def __init__(self, destination: Destination):
        self.destination = destination
        self.transport: asyncio.Transport | None = None
        self.exchange: _Exchange | None = None
        self.closed = False
        self.idle_since = 0.0
        self.reused = False

    # asyncio.Protocol
    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        exchange = self.exchange
        if exchange is None:  # bytes nobody asked for: the connection is unusable
            self.close()
            return
        if exchange.feed(data):
            self.exchange = None
            if exchange.failure is not None or not exchange.complete:
                self.close()
            if not exchange.future.done():
                if exchange.failure is not None:
                    exchange.future.set_exception(exchange.failure)
                else:
                    exchange.future.set_result(exchange)

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        exchange, self.exchange = self.exchange, None
        if exchange is None or exchange.future.done():
            return
        if exchange.headers_done and not exchange.complete and _reads_until_close(exchange):
            exchange.complete, exchange.keep_alive = True, False  # the body ran until the close
            exchange.future.set_result(exchange)
            return
        if not exchange.received_any:
            exchange.future.set_exception(_NothingReceived("The upstream API closed the connection without "
                                                           "answering."))
        else:
            exchange.future.set_exception(TransportError("The upstream API closed the connection mid-answer."))

    # ours
    def send(self, head: bytes, body: bytes, method: str, limit: int) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self.exchange = _Exchange(method, limit, future)
        if body:
            self.transport.writelines((head, body))
        else:
            self.transport.write(head)
        return future

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


def _reads_until_close(exchange: _Exchange) -> bool:
    """A response with neither Content-Length nor chunked framing ends when the connection does."""
    names = {name.lower() for name, _ in exchange.headers}
    return b"content-length" not in names and b"transfer-encoding" not in names


class _NothingReceived(TransportError):
    """The connection closed before any byte of the answer: safe to retry an idempotent request."""


@dataclass
class UpstreamPool:
    """Keep-alive connections to upstream APIs, shared by every call of a gateway process.

    ``max_connections`` bounds open connections (a call waits for a free one, within its
    deadline); ``max_idle`` bounds those kept between calls."""

    connect_timeout: float = 5.0
    max_connections: int = 200
    max_idle: int = 50
    idle_seconds: float = 5.0
    ssl_context: ssl.SSLContext | None = None
    _idle: dict[Destination, list[_Connection]] = field(default_factory=dict, repr=False)
    _idle_count: int = 0
    _slots: asyncio.Semaphore | None = field(default=None, repr=False)
    _closed: bool = False

    async def request(self, *, destination: Destination, method: str, target: bytes,
                      headers: Sequence[tuple[bytes, bytes]], body: bytes, limit: int) -> UpstreamResponse:
        """Send one request and read its whole answer (body at most ``limit`` bytes).

        ``target`` is the request target (path and query, already encoded); ``headers`` are
        sent as given and must include Host. Raises ``TransportError`` or ``ResponseTooLarge``;
        the caller's cancellation (deadline) closes the connection in use."""
        if self._closed:
            raise TransportError("The upstream client is closed.")
        head = _request_head(method, target, headers)
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_connections)
        async with self._slots:
            for attempt in (0, 1):
                connection = self._take_idle(destination) or await self._connect(destination)
                try:
                    exchange = await connection.send(head, body, method, limit)
                except _NothingReceived:
                    if attempt == 0 and connection.reused and method in IDEMPOTENT_METHODS:
                        continue  # the server closed the idle connection as we reused it
                    raise
                except BaseException:
                    connection.close()
                    raise
                try:
                    response = exchange.result()
                except BaseException:
                    connection.close()
                    raise
                if exchange.keep_alive and not connection.closed:
                    self._keep(connection)
                else:
                    connection.close()
                return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _take_idle(self, destination: Destination) -> _Connection | None:
        idle = self._idle.get(destination)
        if not idle:
            return None
        now = asyncio.get_running_loop().time()
        while idle:
            connection = idle.pop()
            self._idle_count -= 1
            if (not connection.closed and not connection.transport.is_closing()
                    and now - connection.idle_since < self.idle_seconds):
                connection.reused = True
                return connection
            connection.close()
        return None

    def _keep(self, connection: _Connection) -> None:
        if self._closed or self._idle_count >= self.max_idle:
            connection.close()
            return
        connection.idle_since = asyncio.get_running_loop().time()
        self._idle.setdefault(connection.destination, []).append(connection)
        self._idle_count += 1

    async def _connect(self, destination: Destination) -> _Connection:
        try:  # the caller pins the connection to an address the egress guard checked: never a name
            ipaddress.ip_address(destination.address)
        except ValueError:
            raise TransportError("The upstream address was not checked; the call was not made.") from None
        loop = asyncio.get_running_loop()
        tls = destination.scheme == "https"
        if tls and self.ssl_context is None:
            self.ssl_context = upstream_ssl_context()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, connection = await loop.create_connection(
                    lambda: _Connection(destination), destination.address, destination.port,
                    ssl=self.ssl_context if tls else None,
                    server_hostname=destination.server_name if tls else None,
                    ssl_handshake_timeout=self.connect_timeout if tls else None,
                )
        except TimeoutError:
            raise TransportError(f"Connecting to the upstream API took longer than {self.connect_timeout:g} s.") \
                from None
        except ssl.SSLError as exc:
            raise TransportError(f"TLS with the upstream API failed ({exc.reason or exc}).") from None
        except OSError as exc:
            raise TransportError(f"The upstream API could not be reached ({exc.strerror or exc}).") from None
        return connection

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
        self._idle_count = 0


def _request_head(method: str, target: bytes, headers: Sequence[tuple[bytes, bytes]]) -> bytes:
    parts = [method.encode("ascii"), b" ", target or b"/", b" HTTP/1.1\r\n"]
    for name, value in headers:
        if any(bad in name or bad in value for bad in _FORBIDDEN_BYTES) or b":" in name:
            raise TransportError("A request header contains characters HTTP does not allow.")
        parts += (name, b": ", value, b"\r\n")
    parts.append(b"\r\n")
    head = b"".join(parts)
    if any(bad in target for bad in (b" ", *_FORBIDDEN_BYTES)):
        raise TransportError("The request target contains characters HTTP does not allow.")
    return head
