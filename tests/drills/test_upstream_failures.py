"""Drill: upstreams that hang, reset the connection, or answer 10 MB.

A raw socket server (its own thread) misbehaves at the TCP level, which a web framework would
not: it accepts and never answers, or resets the connection (RST) once the request arrived, or
streams 10 MB. Each call gets a clean MCP error result naming the problem, and afterwards the
gateway's upstream pool holds no connection: every slot free, nothing kept idle from a broken
exchange."""

from __future__ import annotations

import socket
import struct
import threading

import pytest

from apps.gateway.server import gateway
from tests.gateway.conftest import run_client

pytestmark = [pytest.mark.drill, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

TEN_MB = 10 * 1024 * 1024

SPEC = """
openapi: 3.0.3
info: {title: Broken upstream, version: "1.0"}
servers: [{url: "http://broken.invalid"}]
paths:
  /hang: {get: {operationId: getHang, summary: Never answers, responses: {"200": {description: ok}}}}
  /abrupt: {get: {operationId: getAbrupt, summary: Ends the connection abruptly, responses: {"200": {description: ok}}}}
  /big: {get: {operationId: getBig, summary: Answers 10 MB, responses: {"200": {description: ok}}}}
"""


class BrokenUpstream:
    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.open: list[socket.socket] = []
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        self.open.append(conn)
        try:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                request += chunk
            path = request.split(b" ", 2)[1]
            if path.startswith(b"/hang"):
                conn.recv(1)  # until the client gives up and closes
            elif path.startswith(b"/abrupt"):
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()  # RST
            elif path.startswith(b"/big"):
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n" % TEN_MB)
                block = b"x" * 65536
                for _ in range(TEN_MB // len(block)):
                    conn.sendall(block)
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self) -> None:
        self.stopping = True
        self.sock.close()
        for conn in self.open:
            try:
                conn.close()
            except OSError:
                pass


@pytest.fixture
def broken(world):
    from apps.credentials.services import environment_upstream_set
    from apps.governance.services import grant_create
    from tests.factories import import_spec, make_project

    server = BrokenUpstream()
    owner = world.people.owner
    project = make_project(world.people.org, owner, name="Broken")
    version = import_spec(project, "broken.yaml", owner, data=SPEC.encode())
    assert version.status == "ready", version.status
    env = project.environments.get(slug="development")
    environment_upstream_set(environment=env, base_url=f"http://127.0.0.1:{server.port}", allow_private_network=True,
                             actor=owner)
    grant_create(project=project, actor=owner, effect="allow", principal_kind="role", role="member", all_tools=True)
    try:
        yield f"{world.url}/mcp/{world.people.org.slug}/{project.slug}/development/", server.port
    finally:
        server.stop()


def test_hang_reset_and_10mb_give_clean_errors_and_leave_no_connection(world, broken, settings):
    settings.MCP_UPSTREAM_TIMEOUT_SECONDS = 2
    token = world.tokens["member"]

    async def calls(client):
        return [await client.call_tool(name, {}) for name in ("getHang", "getAbrupt", "getBig", "getHang")]

    endpoint, port = broken
    hang, reset, big, hang_again = run_client(endpoint, token, calls)
    pool = gateway.http  # the running gateway's upstream pool (same process)

    assert hang.is_error is True and "did not answer within 2 s" in hang.content[0].text
    assert reset.is_error is True and "closed the connection" in reset.content[0].text
    assert big.is_error is True and "larger than 2048 KiB" in big.content[0].text
    assert hang_again.is_error is True  # the first hang left nothing behind that blocks the next call
    assert pool._slots._value == pool.max_connections  # no exchange still holds a connection
    # nothing from the broken server kept for reuse (other tests' healthy upstreams may keep theirs:
    # the pool is the running gateway's, shared by every test of the session)
    assert not [c for destination, kept in pool._idle.items() if destination.port == port for c in kept]
