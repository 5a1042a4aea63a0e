"""A warm tools/call confirms its cached caller in the statement that writes its audit row.

The gateway keeps the last caller it read per (token, endpoint) with its fingerprint (the
organization's caller epoch and the project's config version, both bumped by triggers). A
warm call plans with that cached caller and writes ``tool.called`` with a statement that
appends only if the fingerprint is unchanged. These tests change the caller between two calls
(revoked token, demoted role, removed member, deactivated user, renamed environment, changed
grants) and check that the next call behaves exactly as if the caller had been read first:
same HTTP answer, no upstream request, no ``tool.called`` row for a refused caller.
"""

from __future__ import annotations

import httpx
import pytest

from tests.gateway.conftest import UPSTREAM_HITS, audit_events, make_token

pytestmark = pytest.mark.django_db(transaction=True)


def tools_call(url: str, token: str, name: str, arguments: dict) -> httpx.Response:
    """A bare tools/call (no tools/list first, which would read the caller row itself)."""
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": "2025-11-25", "Authorization": f"Bearer {token}"}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": arguments}}
    return httpx.post(url, headers=headers, json=body, timeout=10)


def ok(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert not result.get("isError"), result
    return result


def called_rows(org) -> int:
    return len(audit_events(org, "tool.called"))


def warm_up(url: str, token: str) -> None:
    """Two calls: the first reads the caller row (and snapshot), the second runs cached."""
    for thing in ("first", "second"):
        assert ok(tools_call(url, token, "getEcho", {"thing": thing}))["structuredContent"]["path"] == f"/echo/{thing}"


def test_warm_call_reads_the_caller_and_writes_its_audit_row_in_one_statement(world, weird):
    from apps.gateway.server import gateway

    token = make_token(world.people.member, world.people.org, name="warm")
    warm_up(weird, token)
    audit_events(world.people.org)  # the completion rows of the warm-up are written
    before = gateway.hot.statements
    ok(tools_call(weird, token, "getEcho", {"thing": "third"}))
    audit_events(world.people.org)
    # tool.called (with the caller check) and tool.call_completed; no separate caller lookup
    assert gateway.hot.statements - before == 2
    called = audit_events(world.people.org, "tool.called")[-1]
    assert called.payload["tool"] == "getEcho" and called.actor_label == "member@acme.test"


def test_token_revoked_after_a_cached_call_is_refused_with_401_and_nothing_is_called(world, weird):
    from apps.accounts.models import ApiToken
    from apps.accounts.services import token_revoke

    token = make_token(world.people.member, world.people.org, name="soon revoked")
    warm_up(weird, token)
    rows, hits = called_rows(world.people.org), len(UPSTREAM_HITS)
    token_revoke(token=ApiToken.objects.get(name="soon revoked"), actor=world.people.owner)

    response = tools_call(weird, token, "getEcho", {"thing": "after"})
    assert response.status_code == 401, response.text
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert "revoked" in response.json()["error"]["message"]
    assert len(UPSTREAM_HITS) == hits
    assert called_rows(world.people.org) == rows
    (refused,) = audit_events(world.people.org, "gateway.request_refused")
    assert refused.payload["reason"] == "token_revoked"


def test_member_removed_after_a_cached_call_gets_403(world, weird):
    from apps.accounts.models import Membership

    token = make_token(world.people.member, world.people.org, name="leaver")
    warm_up(weird, token)
    rows, hits = called_rows(world.people.org), len(UPSTREAM_HITS)
    Membership.objects.filter(user=world.people.member).delete()  # raw: no service, no token revocation

    response = tools_call(weird, token, "getEcho", {"thing": "after"})
    assert response.status_code == 403 and "no longer a member" in response.json()["error"]["message"]
    assert len(UPSTREAM_HITS) == hits and called_rows(world.people.org) == rows


def test_role_demoted_after_a_cached_call_is_planned_again_and_denied(world, weird):
    from apps.accounts.models import Membership

    token = make_token(world.people.member, world.people.org, name="demoted")
    warm_up(weird, token)
    hits = len(UPSTREAM_HITS)
    Membership.objects.filter(user=world.people.member).update(role="viewer")  # the grant is for members and up

    response = tools_call(weird, token, "getEcho", {"thing": "after"})
    assert response.status_code == 200
    assert "error" in response.json() or response.json()["result"].get("isError"), response.text
    assert len(UPSTREAM_HITS) == hits
    denied = audit_events(world.people.org, "tool.call_denied")[-1]
    assert denied.payload["tool"] == "getEcho" and denied.payload["reason"] == "no_grant"
    assert "(viewer, 0 teams)" in denied.payload["message"]


def test_grant_removed_after_a_cached_call_is_denied(world, weird):
    from apps.governance.models import Grant
    from apps.governance.services import grant_delete

    token = make_token(world.people.member, world.people.org, name="ungranted")
    warm_up(weird, token)
    hits = len(UPSTREAM_HITS)
    for grant in Grant.objects.filter(project__environments__slug="development", project__name="Weird"):
        grant_delete(grant=grant, actor=world.people.owner)

    response = tools_call(weird, token, "getEcho", {"thing": "after"})
    assert response.status_code == 200 and len(UPSTREAM_HITS) == hits
    assert audit_events(world.people.org, "tool.call_denied")[-1].payload["tool"] == "getEcho"


def test_user_deactivated_after_a_cached_call_gets_401(world, weird):
    from django.contrib.auth import get_user_model

    token = make_token(world.people.member, world.people.org, name="deactivated")
    warm_up(weird, token)
    rows, hits = called_rows(world.people.org), len(UPSTREAM_HITS)
    get_user_model().objects.filter(pk=world.people.member.pk).update(is_active=False)  # raw, as an admin script would

    response = tools_call(weird, token, "getEcho", {"thing": "after"})
    assert response.status_code == 401 and "deactivated" in response.json()["error"]["message"]
    assert len(UPSTREAM_HITS) == hits and called_rows(world.people.org) == rows


def test_environment_renamed_after_a_cached_call_answers_404_at_the_old_address(world, weird):
    from apps.projects.models import Environment

    token = make_token(world.people.member, world.people.org, name="moved")
    warm_up(weird, token)
    rows, hits = called_rows(world.people.org), len(UPSTREAM_HITS)
    Environment.objects.filter(project__name="Weird", slug="development").update(slug="dev-renamed")

    response = tools_call(weird, token, "getEcho", {"thing": "after"})
    assert response.status_code == 404, response.text
    assert len(UPSTREAM_HITS) == hits and called_rows(world.people.org) == rows
