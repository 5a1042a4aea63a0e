"""Approval test fixtures: a real petstore inventory whose production environment points at a
tiny local upstream (so tests count the calls it really received), a webhook receiver,
teams, and helpers to queue requests with a governance Requirement."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

TOOL_OPERATION = "POST /store/order"  # placeOrder: a side effect without upstream auth in petstore v3


@dataclass
class Recorder:
    """A loopback HTTP server that records every request it receives."""

    url: str = ""
    requests: list[dict] = field(default_factory=list)
    status: int = 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> int:
        with self.lock:
            return len(self.requests)


def serve_recorder(recorder: Recorder, respond):
    """Start a loopback HTTP server whose handler records requests and answers with respond()."""
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with recorder.lock:
                recorder.requests.append({"method": self.command, "path": self.path,
                                          "headers": {k: v for k, v in self.headers.items()}, "body": body})
            status, payload = respond(self.command, self.path, body)
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


@pytest.fixture
def upstream():
    """The upstream petstore API: answers every call with 200 and the order it received."""
    recorder = Recorder()

    def respond(method, path, body):
        try:
            order = json.loads(body or b"{}")
        except ValueError:
            order = {}
        return 200, {"id": order.get("id", 1), "petId": order.get("petId"), "status": "placed", "path": path}

    server = serve_recorder(recorder, respond)
    yield recorder
    server.shutdown()
    server.server_close()


@pytest.fixture
def receiver():
    """A webhook receiver; set ``receiver.status`` to make it answer with an error."""
    recorder = Recorder()

    def respond(method, path, body):
        return recorder.status, {"received": True}

    server = serve_recorder(recorder, respond)
    yield recorder
    server.shutdown()
    server.server_close()


@dataclass
class World:
    people: object
    project: object
    environment: object
    tool: object
    finance: object
    finance_reviewer: object
    finance_member: object


def build_world(people, upstream_url: str) -> World:
    from apps.accounts.models import Membership
    from apps.accounts.services import team_add_member, team_create
    from apps.governance.services import grant_create, tool_set_enabled
    from apps.inventory.selectors import current_tools
    from apps.projects.models import Environment
    from tests.conftest import make_user
    from tests.factories import import_spec, make_project

    project = make_project(people.org, people.owner)
    version = import_spec(project, "petstore-v3.yaml", people.owner)
    assert version.status == "ready", version.error
    Environment.objects.filter(project=project, slug="production").update(base_url=upstream_url,
                                                                          allow_private_network=True)
    environment = Environment.objects.get(project=project, slug="production")
    tool = current_tools(project).get(operation_key=TOOL_OPERATION)
    # Members may call every tool in production, and the two the tests use are switched on
    # there: the approval is the extra human check on top of these permissions.
    tool_set_enabled(project=project, environment=environment, operation_keys=[TOOL_OPERATION, "POST /user"],
                     enabled=True, actor=people.owner, reason="Test world: approvals are the extra check.")
    grant_create(project=project, actor=people.owner, effect="allow", principal_kind="role", role="member",
                 all_tools=True)
    finance = team_create(organization=people.org, name="Finance", actor=people.owner)
    finance_reviewer = make_user("fin-reviewer@acme.test")
    Membership.objects.create(organization=people.org, user=finance_reviewer, role="reviewer")
    finance_member = make_user("fin-member@acme.test")
    Membership.objects.create(organization=people.org, user=finance_member, role="member")
    team_add_member(team=finance, user=finance_reviewer, actor=people.owner)
    team_add_member(team=finance, user=finance_member, actor=people.owner)
    return World(people=people, project=project, environment=environment, tool=tool, finance=finance,
                 finance_reviewer=finance_reviewer, finance_member=finance_member)


@pytest.fixture
def world(people, upstream) -> World:
    return build_world(people, upstream.url)


def requirement(approvals: int = 1, steps=(), order: str = "sequential", expires=timedelta(hours=4),
                justification_required: bool = False, label: str = "Orders need approval"):
    from apps.governance.policies import Requirement

    return Requirement(policy_id="policy-1", policy_label=label, kind="multi" if approvals > 1 else "single",
                       approvals_required=approvals, steps=list(steps), order=order, expires_after=expires,
                       justification_required=justification_required)


ORDER_ARGS = {"id": 7, "petId": 42, "quantity": 3, "status": "placed", "complete": False}


def queue_request(world: World, *, requester=None, arguments=None, req=None, justification="Customer asked twice"):
    from apps.approvals.services import approval_request_create

    return approval_request_create(
        tool=world.tool, environment=world.environment, requester=requester or world.people.member, token=None,
        arguments=arguments if arguments is not None else ORDER_ARGS, justification=justification,
        requirement=req or requirement(),
    )


@pytest.fixture
def eager_celery():
    """Run Celery tasks in-process (unit tests); the worker-marked tests use a real worker."""
    from mcpforge.celery import app

    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous
