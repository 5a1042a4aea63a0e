"""Every organization page and API endpoint: outsiders get 404, weak roles 403."""

import pytest

from apps.accounts.models import ApiToken, Membership, Team
from apps.accounts.services import invitation_create, team_create, token_create
from apps.projects.services import project_create


@pytest.fixture
def objects(people):
    team = team_create(organization=people.org, name="Support", actor=people.owner)
    project = project_create(organization=people.org, name="Payments", actor=people.owner)
    invitation_create(
        organization=people.org, email="new@acme.test", role="member", actor=people.owner, actor_role="owner"
    )
    token, _ = token_create(organization=people.org, user=people.member, name="cli")
    return {
        "team": team,
        "project": project,
        "token": token,
        "member_ms": Membership.objects.get(organization=people.org, user=people.member),
        "viewer_ms": Membership.objects.get(organization=people.org, user=people.viewer),
        "invitation": people.org.invitations.get(),
    }


def page_urls(people, objects):
    slug = people.org.slug
    return [
        # (method, url, data, lowest role allowed)
        ("get", f"/o/{slug}/", None, "viewer"),
        ("get", f"/o/{slug}/members/", None, "viewer"),
        ("post", f"/o/{slug}/members/", {"email": "x@acme.test", "role": "member"}, "admin"),
        ("post", f"/o/{slug}/members/{objects['viewer_ms'].public_id}/role/", {"role": "member"}, "admin"),
        ("post", f"/o/{slug}/invitations/{objects['invitation'].public_id}/revoke/", {}, "admin"),
        ("get", f"/o/{slug}/teams/", None, "viewer"),
        ("post", f"/o/{slug}/teams/", {"name": "New team"}, "admin"),
        ("get", f"/o/{slug}/teams/{objects['team'].slug}/", None, "viewer"),
        (
            "post",
            f"/o/{slug}/teams/{objects['team'].slug}/",
            {"action": "add", "member": str(objects["member_ms"].public_id)},
            "admin",
        ),
        ("get", f"/o/{slug}/sign-in/", None, "admin"),
        ("post", f"/o/{slug}/sign-in/", {"domains": "acme.example", "role": "member"}, "admin"),
        ("get", f"/o/{slug}/tokens/", None, "member"),
        ("post", f"/o/{slug}/tokens/", {"name": "laptop"}, "member"),
        ("get", f"/o/{slug}/audit/", None, "reviewer"),
        ("get", f"/o/{slug}/audit/export.csv", None, "admin"),
        ("get", f"/o/{slug}/audit/export.json", None, "admin"),
        ("get", f"/o/{slug}/projects/new/", None, "admin"),
        ("post", f"/o/{slug}/projects/new/", {"name": "Another"}, "admin"),
        ("get", f"/o/{slug}/p/{objects['project'].slug}/", None, "viewer"),
        ("get", f"/o/{slug}/p/{objects['project'].slug}/settings/", None, "viewer"),
        ("post", f"/o/{slug}/p/{objects['project'].slug}/settings/", {"env-name": "qa"}, "admin"),
        ("get", f"/o/{slug}/p/{objects['project'].slug}/settings/environments/staging/", None, "viewer"),
        ("post", f"/o/{slug}/p/{objects['project'].slug}/settings/environments/staging/",
         {"base_url": "https://api.example.com"}, "admin"),
    ]


RANK = ["viewer", "member", "reviewer", "admin", "owner"]


@pytest.mark.django_db
def test_outsider_gets_404_everywhere(people, objects, client_for):
    client = client_for(people.outsider)
    for method, url, data, _ in page_urls(people, objects):
        response = getattr(client, method)(url, data or {})
        assert response.status_code == 404, (method, url, response.status_code)


@pytest.mark.django_db
def test_roles_below_the_minimum_get_403(people, objects, client_for):
    for method, url, data, minimum in page_urls(people, objects):
        for role in RANK[: RANK.index(minimum)]:
            response = getattr(client_for(people.by_role(role)), method)(url, data or {})
            assert response.status_code == 403, (role, method, url, response.status_code)


@pytest.mark.django_db
def test_minimum_role_is_allowed(people, objects, client_for):
    for method, url, data, minimum in page_urls(people, objects):
        response = getattr(client_for(people.by_role(minimum)), method)(url, data or {})
        assert response.status_code in (200, 302), (minimum, method, url, response.status_code)


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(people, objects, client):
    response = client.get(f"/o/{people.org.slug}/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.django_db
def test_api_outsider_404_and_wrong_role_403(people, objects, api_for):
    project = objects["project"]
    outsider = api_for(people.outsider)
    assert outsider.get(f"/api/v1/projects/{project.public_id}/").status_code == 404
    assert outsider.get(f"/api/v1/organizations/{people.org.slug}/audit-events/").status_code == 404
    r = outsider.post("/api/v1/projects/", {"organization": people.org.slug, "name": "X"}, format="json")
    assert r.status_code == 404 and r.json()["detail"]
    member = api_for(people.member)
    r = member.post("/api/v1/projects/", {"organization": people.org.slug, "name": "X"}, format="json")
    assert r.status_code == 403 and "role" in r.json()["detail"]
    assert member.get(f"/api/v1/organizations/{people.org.slug}/audit-events/").status_code == 403
    assert api_for(people.viewer).get(f"/api/v1/projects/{project.public_id}/").status_code == 200


@pytest.mark.django_db
def test_owner_cannot_be_changed_by_admin(people, client_for):
    owner_ms = Membership.objects.get(organization=people.org, user=people.owner)
    response = client_for(people.admin).post(
        f"/o/{people.org.slug}/members/{owner_ms.public_id}/role/", {"role": "viewer"}
    )
    assert response.status_code == 403
    owner_ms.refresh_from_db()
    assert owner_ms.role == "owner"


def test_unused_imports_are_models():
    assert ApiToken and Team
