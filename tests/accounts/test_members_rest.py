"""Issue 23, item 6: the members and teams pages' admin actions through REST, with the pages'
services, role checks and audit events; outsiders 404, roles below admin 403 (audited)."""

import pytest

from apps.accounts.models import ApiToken, Invitation, Membership, Team
from apps.accounts.services import token_create
from apps.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def kinds(org):
    return list(AuditEvent.objects.filter(organization=org).order_by("seq").values_list("event_type", flat=True))


def test_invite_change_role_remove_and_revoke(people, api_for):
    admin, base = api_for(people.admin), f"/api/v1/organizations/{people.org.slug}/"
    listing = api_for(people.viewer).get(base + "members/").json()
    assert {m["email"] for m in listing["members"]} >= {"owner@acme.test", "viewer@acme.test"}
    invited = admin.post(base + "members/", {"email": "New@Acme.test", "role": "reviewer"}, format="json")
    assert invited.status_code == 201
    body = invited.json()
    assert body["email"] == "new@acme.test" and body["role"] == "reviewer" and "/invitations/" in body["invite_url"]
    assert admin.post(base + "members/", {"email": "x@acme.test", "role": "owner"},
                      format="json").status_code == 403  # only an owner makes owners
    again = admin.post(base + "members/", {"email": "member@acme.test"}, format="json")
    assert again.status_code == 409 and "already a member" in again.json()["detail"]
    assert admin.delete(base + f"invitations/{body['id']}/").status_code == 204
    assert Invitation.objects.get(public_id=body["id"]).revoked_at is not None

    viewer_ms = Membership.objects.get(organization=people.org, user=people.viewer)
    changed = admin.patch(base + f"members/{viewer_ms.public_id}/", {"role": "member"}, format="json")
    assert changed.status_code == 200 and changed.json()["role"] == "member"
    assert admin.patch(base + f"members/{viewer_ms.public_id}/", {"role": "boss"}, format="json").status_code == 400
    owner_ms = Membership.objects.get(organization=people.org, user=people.owner)
    assert admin.delete(base + f"members/{owner_ms.public_id}/").status_code == 403
    token_create(organization=people.org, user=people.viewer, name="laptop")
    assert admin.delete(base + f"members/{viewer_ms.public_id}/").status_code == 204
    assert not Membership.objects.filter(pk=viewer_ms.pk).exists()
    assert ApiToken.objects.get(user=people.viewer, name="laptop").revoked_at is not None
    events = kinds(people.org)
    assert [k for k in events if k.startswith("member.")] == [
        "member.invited", "member.invitation_revoked", "member.role_changed", "member.removed"]
    assert events.count("access.refused") == 2  # the owner invitation and the owner removal


def test_teams(people, api_for):
    admin, base = api_for(people.admin), f"/api/v1/organizations/{people.org.slug}/teams/"
    created = admin.post(base, {"name": "Payments Ops", "description": "on call"}, format="json")
    assert created.status_code == 201 and created.json()["slug"] == "payments-ops"
    assert admin.post(base, {"name": "Payments Ops"}, format="json").status_code == 409
    member_ms = Membership.objects.get(organization=people.org, user=people.member)
    added = admin.put(base + f"payments-ops/members/{member_ms.public_id}/")
    assert added.status_code == 200 and added.json()["members"] == ["member@acme.test"]
    assert admin.put(base + f"payments-ops/members/{member_ms.public_id}/").status_code == 409
    assert api_for(people.viewer).get(base).json()[0]["members"] == ["member@acme.test"]
    removed = admin.delete(base + f"payments-ops/members/{member_ms.public_id}/")
    assert removed.status_code == 200 and removed.json()["members"] == []
    assert admin.delete(base + "payments-ops/").status_code == 204
    assert not Team.objects.filter(organization=people.org).exists()
    assert [k for k in kinds(people.org) if k.startswith("team.")] == [
        "team.created", "team.member_added", "team.member_removed", "team.deleted"]


def test_outsider_404_and_wrong_role_403(people, api_for):
    from apps.accounts.services import team_create

    team_create(organization=people.org, name="Support", actor=people.owner)
    member_ms = Membership.objects.get(organization=people.org, user=people.member)
    base = f"/api/v1/organizations/{people.org.slug}/"
    writes = [
        ("post", base + "members/", {"email": "x@acme.test", "role": "member"}),
        ("patch", base + f"members/{member_ms.public_id}/", {"role": "admin"}),
        ("delete", base + f"members/{member_ms.public_id}/", None),
        ("delete", base + "invitations/00000000-0000-0000-0000-000000000000/", None),
        ("post", base + "teams/", {"name": "Ops"}),
        ("delete", base + "teams/support/", None),
        ("put", base + f"teams/support/members/{member_ms.public_id}/", None),
        ("delete", base + f"teams/support/members/{member_ms.public_id}/", None),
    ]
    reads = [base + "members/", base + f"members/{member_ms.public_id}/", base + "teams/", base + "teams/support/"]
    outsider = api_for(people.outsider)
    for url in reads:
        assert outsider.get(url).status_code == 404, url
    for method, url, data in writes:
        assert getattr(outsider, method)(url, data, format="json").status_code == 404, (method, url)
    refused_before = kinds(people.org).count("access.refused")
    for role in ("viewer", "member", "reviewer"):
        client = api_for(people.by_role(role))
        for method, url, data in writes:
            assert getattr(client, method)(url, data, format="json").status_code == 403, (role, method, url)
    assert kinds(people.org).count("access.refused") - refused_before == 3 * len(writes)
    assert Membership.objects.get(pk=member_ms.pk).role == "member"
    assert Team.objects.filter(organization=people.org, slug="support").exists()
    assert not Invitation.objects.filter(organization=people.org).exists()
