"""apps.gateway.transport against raw asyncio servers that answer byte for byte what each test
needs: keep-alive reuse, framing (Content-Length, chunked, until close, HEAD, 1xx), limits,
decoding, the keep-alive race, cancellation, TLS verification and no cookie carry-over."""

from __future__ import annotations

import asyncio
import datetime
import gzip
import ipaddress
import ssl
from contextlib import asynccontextmanager

import pytest

from apps.gateway.transport import Destination, ResponseTooLarge, TransportError, UpstreamPool
from tests.gateway.conftest import run_async

LIMIT = 64 * 1024


class Server:
    """A loopback server running ``handler(reader, writer, server)`` per connection."""

    def __init__(self, handler, ssl_context: ssl.SSLContext | None = None):
        self.handler = handler
        self.ssl_context = ssl_context
        self.connections = 0
        self.requests: list[bytes] = []
        self.port = 0

    async def _serve(self, reader, writer) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer, self)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def read_request(self, reader) -> bytes | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        request = head + (await reader.readexactly(length) if length else b"")
        self.requests.append(request)
        return request

    @asynccontextmanager
    async def running(self):
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ssl_context)
        self.port = server.sockets[0].getsockname()[1]
        async with server:
            yield self

    def destination(self, scheme: str = "http", name: str = "127.0.0.1") -> Destination:
        return Destination(scheme, "127.0.0.1", self.port, name)


def get(server: Server, pool: UpstreamPool, method: str = "GET", target: bytes = b"/", body: bytes = b"",
        headers: list[tuple[bytes, bytes]] | None = None, limit: int = LIMIT, scheme: str = "http",
        name: str = "127.0.0.1"):
    head = [(b"Host", f"{name}:{server.port}".encode())] + (headers or [])
    if body:
        head.append((b"Content-Length", str(len(body)).encode()))
    return pool.request(destination=server.destination(scheme, name), method=method, target=target, headers=head,
                        body=body, limit=limit)


def answer(body: bytes = b'{"ok": true}', status: bytes = b"200 OK", extra: bytes = b"") -> bytes:
    return (b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n" + extra + b"\r\n" + body)


async def keep_answering(reader, writer, server: Server) -> None:
    while await server.read_request(reader) is not None:
        writer.write(answer(b'{"n": %d}' % len(server.requests)))
        await writer.drain()


def run(coroutine):
    return run_async(coroutine)  # asyncio.run, on a helper thread when Playwright's loop runs here


def test_keep_alive_reuses_one_connection_and_sends_the_request_as_given():
    async def main():
        server, pool = Server(keep_answering), UpstreamPool()
        async with server.running():
            first = await get(server, pool, target=b"/items/1?q=a%20b", headers=[(b"X-Trace", b"t-1")])
            second = await get(server, pool, method="POST", target=b"/items", body=b'{"name":"x"}')
            await pool.aclose()
        assert (first.status_code, first.reason_phrase, first.body) == (200, "OK", b'{"n": 1}')
        assert first.headers["content-type"] == "application/json"
        assert second.body == b'{"n": 2}'
        assert server.connections == 1
        assert server.requests[0].startswith(b"GET /items/1?q=a%20b HTTP/1.1\r\nHost: 127.0.0.1:")
        assert b"\r\nX-Trace: t-1\r\n" in server.requests[0]
        assert server.requests[1].endswith(b'\r\n\r\n{"name":"x"}')

    run(main())


def test_chunked_until_close_head_and_interim_answers_are_framed_right():
    async def handler(reader, writer, server):
        while (request := await server.read_request(reader)) is not None:
            if request.startswith(b"GET /chunked"):
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                             b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
            elif request.startswith(b"HEAD"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n")  # no body, as HEAD wants
            elif request.startswith(b"GET /interim"):
                writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" + answer(b"final"))
            elif request.startswith(b"GET /close"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
                await writer.drain()
                return
            await writer.drain()

    async def main():
        server, pool = Server(handler), UpstreamPool()
        async with server.running():
            chunked = await get(server, pool, target=b"/chunked")
            head = await get(server, pool, method="HEAD", target=b"/head")
            interim = await get(server, pool, target=b"/interim")
            until_close = await get(server, pool, target=b"/close")
            after = await get(server, pool, target=b"/chunked")
            await pool.aclose()
        assert chunked.body == b"hello world"
        assert head.status_code == 200 and head.body == b""
        assert interim.status_code == 200 and interim.body == b"final" and "link" not in interim.headers
        assert until_close.body == b"until the end"
        assert after.body == b"hello world"
        assert server.connections == 2  # one until the server closed it, then a new one

    run(main())


def test_body_limits_declared_streamed_and_decoded():
    bomb = gzip.compress(b"0" * (LIMIT * 20))
    small = gzip.compress(b'{"zipped": true}')

    async def handler(reader, writer, server):
        while (request := await server.read_request(reader)) is not None:
            if request.startswith(b"GET /declared"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n")
            elif request.startswith(b"GET /streamed"):
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                for _ in range(40):
                    writer.write(b"1000\r\n" + b"x" * 4096 + b"\r\n")
                writer.write(b"0\r\n\r\n")
            elif request.startswith(b"GET /bomb"):
                writer.write(answer(bomb, extra=b"Content-Encoding: gzip\r\n"))
            elif request.startswith(b"GET /gzip"):
                writer.write(answer(small, extra=b"Content-Encoding: gzip\r\n"))
            elif request.startswith(b"GET /headers"):
                writer.write(b"HTTP/1.1 200 OK\r\n" + b"X-Filler: " + b"y" * 70_000 + b"\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()

    async def main():
        server, pool = Server(handler), UpstreamPool()
        async with server.running():
            for target in (b"/declared", b"/streamed", b"/bomb", b"/headers"):
                with pytest.raises(ResponseTooLarge):
                    await get(server, pool, target=target)
            zipped = await get(server, pool, target=b"/gzip")
            await pool.aclose()
        assert zipped.body == b'{"zipped": true}'
        assert server.connections == 5  # a connection that broke a limit is never reused

    run(main())


def test_keep_alive_race_retries_reads_once_but_never_a_post():
    async def handler(reader, writer, server):
        # First connection: answers one request, then reads the next and closes without a word.
        if server.connections == 1:
            await server.read_request(reader)
            writer.write(answer())
            await writer.drain()
            await server.read_request(reader)
            return
        await keep_answering(reader, writer, server)

    async def main():
        for method, retried in (("GET", True), ("POST", False)):
            server, pool = Server(handler), UpstreamPool()
            async with server.running():
                await get(server, pool)
                if retried:
                    assert (await get(server, pool, method=method)).status_code == 200
                else:
                    with pytest.raises(TransportError, match="without answering"):
                        await get(server, pool, method=method, body=b"{}")
                await pool.aclose()
            assert sum(r.startswith(method.encode()) for r in server.requests) == (3 if method == "GET" else 1)

    run(main())


def test_an_idle_connection_the_server_closed_is_not_reused():
    async def one_then_close(reader, writer, server):
        await server.read_request(reader)
        writer.write(answer())
        await writer.drain()

    async def main():
        server, pool = Server(one_then_close), UpstreamPool()
        async with server.running():
            await get(server, pool)
            await asyncio.sleep(0.05)  # the close reaches the client's loop
            assert (await get(server, pool, method="POST", body=b"{}")).status_code == 200
            await pool.aclose()
        assert server.connections == 2 and len(server.requests) == 2

    run(main())


def test_cancellation_closes_the_connection_and_garbage_is_an_error():
    async def handler(reader, writer, server):
        while (request := await server.read_request(reader)) is not None:
            if request.startswith(b"GET /slow"):
                await asyncio.sleep(5)
            elif request.startswith(b"GET /garbage"):
                writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
            else:
                writer.write(answer())
            await writer.drain()

    async def main():
        server, pool = Server(handler), UpstreamPool()
        async with server.running():
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.2):
                    await get(server, pool, target=b"/slow")
            assert (await get(server, pool)).status_code == 200
            with pytest.raises(TransportError, match="HTTP/1.1"):
                await get(server, pool, target=b"/garbage")
            assert (await get(server, pool)).status_code == 200
            await pool.aclose()
        assert server.connections == 3  # /slow (closed by the deadline), the one garbage broke, a new one

    run(main())


def test_no_cookie_is_kept_and_headers_cannot_be_smuggled():
    async def handler(reader, writer, server):
        while await server.read_request(reader) is not None:
            writer.write(answer(extra=b"Set-Cookie: session=abc123; Path=/\r\n"))
            await writer.drain()

    async def main():
        server, pool = Server(handler), UpstreamPool()
        async with server.running():
            first = await get(server, pool)
            await get(server, pool)
            with pytest.raises(TransportError, match="not allow"):
                await get(server, pool, headers=[(b"X-Evil", b"a\r\nX-Injected: 1")])
            await pool.aclose()
        assert first.headers["set-cookie"].startswith("session=abc123")
        assert b"cookie" not in server.requests[1].lower()
        assert len(server.requests) == 2

    run(main())


def test_unreachable_upstream_is_a_transport_error():
    async def main():
        server = Server(keep_answering)
        async with server.running():
            port = server.port
        pool = UpstreamPool()
        with pytest.raises(TransportError, match="could not be reached"):
            await pool.request(destination=Destination("http", "127.0.0.1", port, "127.0.0.1"), method="GET",
                               target=b"/", headers=[(b"Host", b"x")], body=b"", limit=LIMIT)

    run(main())


def _certificate(tmp_path, name: str):
    """A self-signed certificate for ``name`` (and 127.0.0.1), its key, and a client context
    that trusts only it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_path, key_path)
    client_context = ssl.create_default_context(cafile=str(cert_path))
    return server_context, client_context


def test_tls_verifies_the_url_host_while_connecting_to_the_pinned_address(tmp_path):
    server_context, client_context = _certificate(tmp_path, "api.mcpforge.test")

    async def main():
        server = Server(keep_answering, ssl_context=server_context)
        async with server.running():
            pool = UpstreamPool(ssl_context=client_context)
            ok = await get(server, pool, scheme="https", name="api.mcpforge.test")
            with pytest.raises(TransportError, match="TLS"):
                await get(server, pool, scheme="https", name="other.example")
            untrusting = UpstreamPool()  # the public CA bundle does not know this certificate
            with pytest.raises(TransportError, match="TLS"):
                await get(server, untrusting, scheme="https", name="api.mcpforge.test")
            await pool.aclose()
        assert ok.status_code == 200
        assert server.requests[0].startswith(b"GET / HTTP/1.1\r\nHost: api.mcpforge.test:")

    run(main())


def test_concurrent_calls_share_a_bounded_set_of_connections():
    async def slow_answers(reader, writer, server):
        server.open += 1
        server.most_open = max(server.most_open, server.open)
        try:
            while (request := await server.read_request(reader)) is not None:
                await asyncio.sleep(0.01)
                writer.write(answer(request.split(b" ")[1]))  # the target it was asked for
                await writer.drain()
        finally:
            server.open -= 1

    async def main():
        server, pool = Server(slow_answers), UpstreamPool(max_connections=8, max_idle=4)
        server.open = server.most_open = 0
        async with server.running():
            answers = await asyncio.gather(*(get(server, pool, target=b"/items/%d" % i) for i in range(100)))
            idle = pool._idle_count
            await pool.aclose()
        assert all(a.status_code == 200 for a in answers)
        assert [a.body for a in answers] == [b"/items/%d" % i for i in range(100)]  # each call its own answer
        assert server.most_open == 8 and idle <= 4  # never more than max_connections at once

    run(main())
