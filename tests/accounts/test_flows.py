"""Tokens, invitations, roles, teams, audit export and the management commands."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from apps.accounts.models import ApiToken, Invitation, Membership
from apps.accounts.services import token_create
from apps.accounts.tokens import digest
from apps.audit.models import AuditEvent


@pytest.mark.django_db
def test_token_is_shown_once_and_stored_as_digest(people, client_for):
    client = client_for(people.member)
    response = client.post(f"/o/{people.org.slug}/tokens/", {"name": "Claude Desktop", "expires_days": 30},
                           follow=True)  # POST/redirect/GET (issue 18 item 7)
    assert response.status_code == 200 and response.redirect_chain
    raw = response.context["new_token"]
    assert raw.startswith("mcpf_") and raw.encode() in response.content
    token = ApiToken.objects.get(user=people.member, name="Claude Desktop")
    assert token.digest == digest(raw) and raw not in (token.prefix, token.digest)
    assert token.expires_at > timezone.now() + timedelta(days=29)
    assert raw.encode() not in client.get(f"/o/{people.org.slug}/tokens/").content  # never shown again
    event = AuditEvent.objects.get(event_type="token.created", target_id=str(token.public_id))
    assert raw not in json.dumps(event.payload)


@pytest.mark.django_db
def test_api_token_auth_last_used_revocation_and_expiry(people, client):
    token, raw = token_create(organization=people.org, user=people.member, name="ci")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    response = client.get("/api/v1/me/", **auth)
    assert response.status_code == 200 and response.json()["email"] == "member@acme.test"
    token.refresh_from_db()
    assert token.last_used_at is not None
    bad = client.get("/api/v1/me/", HTTP_AUTHORIZATION="Bearer mcpf_notarealtokenatallxxxxxxxx")
    assert bad.status_code == 401 and bad.json()["detail"] and "Bearer" in bad["WWW-Authenticate"]
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/v1/me/", **auth).status_code == 401
    ApiToken.objects.filter(pk=token.pk).update(expires_at=None)
    assert client.get("/api/v1/me/", **auth).status_code == 200
    from django.test import Client

    owner_client = Client()
    owner_client.force_login(people.member)
    owner_client.post(f"/o/{people.org.slug}/tokens/{token.public_id}/revoke/")
    assert client.get("/api/v1/me/", **auth).status_code == 401
    assert AuditEvent.objects.filter(event_type="token.revoked").count() == 1


@pytest.mark.django_db
def test_other_users_tokens_cannot_be_revoked(people, client_for):
    token, _ = token_create(organization=people.org, user=people.member, name="mine")
    response = client_for(people.admin).post(f"/o/{people.org.slug}/tokens/{token.public_id}/revoke/")
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.django_db
def test_invitation_email_accept_and_wrong_account(people, client_for):
    from tests.conftest import make_user

    admin = client_for(people.admin)
    response = admin.post(f"/o/{people.org.slug}/members/", {"email": "New.Person@Acme.test", "role": "reviewer"})
    assert response.status_code == 302  # POST/redirect/GET: the link is shown once on the next page
    assert len(mail.outbox) == 0  # sent on commit; the test transaction never commits
    url = admin.get(response["Location"]).context["invite_url"]
    path = url.split("127.0.0.1:8000")[-1]
    stranger = make_user("someone-else@acme.test")
    response = client_for(stranger).post(path)
    assert response.status_code == 200 and b"log in with that address" in response.content
    invitee = make_user("new.person@acme.test")
    response = client_for(invitee).post(path)
    assert response.status_code == 302
    assert Membership.objects.get(organization=people.org, user=invitee).role == "reviewer"
    assert Invitation.objects.get(email="new.person@acme.test").accepted_at is not None
    assert client_for(invitee).post(path).status_code == 200  # used: clear message, no second membership
    types = list(AuditEvent.objects.filter(organization=people.org).values_list("event_type", flat=True))
    assert "member.invited" in types and "member.joined" in types


@pytest.mark.django_db(transaction=True)
def test_invitation_email_is_sent(settings):
    from apps.accounts.services import invitation_create, organization_create
    from tests.conftest import make_user

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    owner = make_user("boss@acme.test")
    org = organization_create(name="Mail Org", actor=owner)
    url = invitation_create(organization=org, email="joiner@acme.test", role="member", actor=owner, actor_role="owner")
    assert len(mail.outbox) == 1 and url in mail.outbox[0].body and mail.outbox[0].to == ["joiner@acme.test"]


@pytest.mark.django_db
def test_admin_cannot_invite_an_owner_and_last_owner_stays(people, client_for):
    response = client_for(people.admin).post(
        f"/o/{people.org.slug}/members/", {"email": "x@acme.test", "role": "owner"}
    )
    assert response.status_code == 403
    owner_ms = Membership.objects.get(organization=people.org, user=people.owner)
    response = client_for(people.owner).post(
        f"/o/{people.org.slug}/members/{owner_ms.public_id}/role/", {"role": "admin"}, follow=True
    )
    assert b"at least one owner" in response.content
    owner_ms.refresh_from_db()
    assert owner_ms.role == "owner"


@pytest.mark.django_db
def test_removing_a_member_revokes_their_tokens(people, client_for):
    token, _ = token_create(organization=people.org, user=people.member, name="x")
    ms = Membership.objects.get(organization=people.org, user=people.member)
    client_for(people.admin).post(f"/o/{people.org.slug}/members/{ms.public_id}/remove/")
    assert not Membership.objects.filter(pk=ms.pk).exists()
    token.refresh_from_db()
    assert token.revoked_at is not None


@pytest.mark.django_db
def test_teams_add_and_remove_members(people, client_for):
    client = client_for(people.admin)
    client.post(f"/o/{people.org.slug}/teams/", {"name": "Support", "description": "Tier 1"})
    ms = Membership.objects.get(organization=people.org, user=people.member)
    client.post(f"/o/{people.org.slug}/teams/support/", {"action": "add", "member": str(ms.public_id)})
    assert people.member.teams.filter(slug="support").exists()
    response = client.post(f"/o/{people.org.slug}/teams/", {"name": "Support"})
    assert b"already exists" in response.content
    client.post(f"/o/{people.org.slug}/teams/support/", {"action": "remove", "member": str(ms.public_id)})
    assert not people.member.teams.exists()
    types = set(AuditEvent.objects.filter(organization=people.org).values_list("event_type", flat=True))
    assert {"team.created", "team.member_added", "team.member_removed"} <= types


@pytest.mark.django_db
def test_audit_log_filters_pagination_and_exports(people, client_for):
    from apps.accounts.services import team_create

    for i in range(60):
        team_create(organization=people.org, name=f"Team {i}", actor=people.admin)
    client = client_for(people.admin)
    page = client.get(f"/o/{people.org.slug}/audit/")
    assert page.status_code == 200 and len(page.context["page"].object_list) == 50
    assert b"Older</a>" in page.content  # keyset paging: 60 team events and more, 50 a page
    filtered = client.get(f"/o/{people.org.slug}/audit/", {"actor": "owner@acme.test",
                                                          "event_type": "organization.created"})
    assert [e.event_type for e in filtered.context["page"].object_list] == ["organization.created"]
    bad = client.get(f"/o/{people.org.slug}/audit/", {"date_from": "yesterday"})
    assert b"must be a date" in bad.content
    response = client.get(f"/o/{people.org.slug}/audit/export.csv", {"event_type": "team.created"})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 60 and {r["event_type"] for r in rows} == {"team.created"}
    assert rows[0]["actor"] == "admin@acme.test"
    response = client.get(f"/o/{people.org.slug}/audit/export.json", {"actor": "owner@acme.test"})
    data = json.loads(b"".join(response.streaming_content))
    assert [e["event_type"] for e in data] == ["organization.created"] and data[0]["hash"]
    # other organizations' events never leak into an export
    assert "outsider@evil.test" not in json.dumps(data)


@pytest.mark.django_db
def test_audit_api_filters_and_rejects_bad_dates(people, api_for):
    client = api_for(people.reviewer)
    body = client.get(f"/api/v1/organizations/{people.org.slug}/audit-events/", {"event_type": "token.created"}).json()
    assert body["count"] == 1 and body["results"][0]["event_type"] == "token.created"
    bad = client.get(f"/api/v1/organizations/{people.org.slug}/audit-events/", {"date_to": "31/12/2026"})
    assert bad.status_code == 400 and "date" in json.dumps(bad.json())


@pytest.mark.django_db
def test_create_token_and_seed_demo_commands(people, capsys):
    call_command("create_token", "--user", "member@acme.test", "--name", "script", "--expires-days", "7")
    raw = capsys.readouterr().out.strip()
    assert raw.startswith("mcpf_") and ApiToken.objects.get(digest=digest(raw)).name == "script"
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No user"):
        call_command("create_token", "--user", "ghost@acme.test", "--name", "x")
    call_command("seed_demo", "--password", "demo-password-123")
    assert "demo@example.com" in capsys.readouterr().out
    call_command("seed_demo")  # idempotent
    assert "already present" in capsys.readouterr().out
    from apps.accounts.models import Organization

    demo = Organization.objects.get(slug="demo")
    assert demo.memberships.count() == 4 and demo.teams.count() == 2 and demo.projects.get().environments.count() == 3


@pytest.mark.django_db
def test_api_schema_and_docs_are_served(people, client_for):
    client = client_for(people.viewer)
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200 and b"/api/v1/projects/" in schema.content
    assert client.get("/api/v1/docs/").status_code == 200


@pytest.mark.django_db
def test_totp_two_factor_can_be_turned_on_and_is_then_required(people, client):
    """The whole allauth.mfa flow: log in, activate TOTP with a real code, log in again with it."""
    import time

    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    from tests.conftest import PASSWORD

    assert client.post("/accounts/login/", {"login": "member@acme.test", "password": PASSWORD}).status_code == 302
    # allauth asks for the password again before a security change
    assert client.get("/accounts/2fa/totp/activate/")["Location"].startswith("/accounts/reauthenticate/")
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    page = client.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 200
    secret = page.context["form"].secret
    code = format_hotp_value(hotp_value(secret, int(time.time()) // 30))
    response = client.post("/accounts/2fa/totp/activate/", {"code": code})
    assert response.status_code == 302
    assert Authenticator.objects.filter(user=people.member, type=Authenticator.Type.TOTP).exists()
    client.logout()
    response = client.post("/accounts/login/", {"login": "member@acme.test", "password": PASSWORD})
    assert response.status_code == 302 and "/accounts/2fa/authenticate/" in response["Location"]
    assert client.get(f"/o/{people.org.slug}/").status_code == 302  # not logged in until the second factor
