"""The organization setting behind enterprise sign-in: email domains whose people join on
first sign-in (pure rules, the page, the REST endpoint, tenancy and audit)."""

from __future__ import annotations

import pytest

from apps.accounts import email_domains
from apps.accounts.models import Membership, SignInDomain
from apps.accounts.services import signin_domains_set, signin_join_by_domain
from apps.audit.models import AuditEvent
from tests.conftest import make_user

# --------------------------------------------------------------------------- pure rules


@pytest.mark.parametrize("text, expected", [
    ("acme.com", "acme.com"), ("ACME.Com", "acme.com"), ("@acme.com", "acme.com"), (" eu.acme.com ", "eu.acme.com"),
    ("bücher.de", "xn--bcher-kva.de"), ("xn--bcher-kva.de", "xn--bcher-kva.de"),
])
def test_domains_are_normalised(text, expected):
    assert email_domains.normalize(text) == expected


@pytest.mark.parametrize("text", ["", "acme", "*.acme.com", "acme.com.", "http://acme.com", "a@acme.com",
                                  "10.0.0.1", "-acme.com", "acme..com", "a b.com", "x" * 64 + ".com"])
def test_bad_domains_are_refused(text):
    with pytest.raises(email_domains.BadDomain):
        email_domains.normalize(text)


def test_only_a_json_true_is_verified():
    assert email_domains.decide(email="a@Acme.com", email_verified=True) == \
        email_domains.JoinDecision("acme.com", True, "verified")
    for claim in (False, None, "true", "True", 1, "yes"):
        assert email_domains.decide(email="a@acme.com", email_verified=claim).join is False
    assert email_domains.decide(email="not-an-address", email_verified=True).domain is None
    # exact domain: a subdomain or a look-alike is another domain
    assert email_domains.domain_of("a@eu.acme.com") == "eu.acme.com"
    assert email_domains.domain_of("a@acme.com@evil.com") == "evil.com"


# --------------------------------------------------------------------------- service


@pytest.mark.django_db
def test_join_is_exact_and_idempotent(people):
    signin_domains_set(organization=people.org, domains=["acme.example"], role="viewer", actor=people.owner)
    sub = make_user("x@eu.acme.example")
    assert signin_join_by_domain(user=sub, email=sub.email, email_verified=True, provider="sso") is None
    user = make_user("y@ACME.example")
    first = signin_join_by_domain(user=user, email=user.email, email_verified=True, provider="sso")
    again = signin_join_by_domain(user=user, email=user.email, email_verified=True, provider="sso")
    assert first == again and first.role == "viewer"
    assert AuditEvent.objects.filter(event_type="member.joined_by_domain").count() == 1


@pytest.mark.django_db
def test_a_domain_belongs_to_one_organization(people):
    signin_domains_set(organization=people.org, domains="acme.example", role="member", actor=people.owner)
    from apps.core.errors import DomainError
    with pytest.raises(DomainError, match="Another organization already uses acme.example"):
        signin_domains_set(organization=people.other_org, domains="acme.example", role="member",
                           actor=people.outsider)
    assert list(SignInDomain.objects.values_list("organization", flat=True)) == [people.org.pk]


# --------------------------------------------------------------------------- page


@pytest.mark.django_db
def test_admin_turns_it_on_and_off_on_the_page(people, client_for):
    admin = client_for(people.admin)
    url = f"/o/{people.org.slug}/sign-in/"
    page = admin.get(url)
    assert page.status_code == 200 and "Off." in page.content.decode()

    response = admin.post(url, {"domains": "acme.example\nACME.org", "role": "reviewer"}, follow=True)
    assert response.status_code == 200
    assert "Sign-in domains saved: acme.example, acme.org." in response.content.decode()
    assert sorted(SignInDomain.objects.filter(organization=people.org).values_list("domain", "role")) == \
        [("acme.example", "reviewer"), ("acme.org", "reviewer")]
    (changed,) = AuditEvent.objects.filter(organization=people.org, event_type="organization.signin_domains_changed")
    assert changed.actor == people.admin
    assert changed.payload["before"] == [] and changed.payload["after"] == ["acme.example", "acme.org"]

    # saving the same again writes nothing
    admin.post(url, {"domains": "acme.org, acme.example", "role": "reviewer"})
    assert AuditEvent.objects.filter(event_type="organization.signin_domains_changed").count() == 1

    response = admin.post(url, {"domains": "", "role": "member"}, follow=True)
    assert "Joining by email domain is off." in response.content.decode()
    assert not SignInDomain.objects.exists()
    last = AuditEvent.objects.filter(event_type="organization.signin_domains_changed").latest("seq")
    assert last.payload["after"] == [] and last.payload["before"] == ["acme.example", "acme.org"]


@pytest.mark.django_db
def test_bad_input_on_the_page_is_shown_and_nothing_saved(people, client_for):
    admin = client_for(people.admin)
    url = f"/o/{people.org.slug}/sign-in/"
    response = admin.post(url, {"domains": "acme.example *.evil.com", "role": "member"})
    assert response.status_code == 400
    assert "is not a domain name" in response.content.decode()
    response = admin.post(url, {"domains": "acme.example", "role": "admin"})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert not SignInDomain.objects.exists()
    assert not AuditEvent.objects.filter(event_type="organization.signin_domains_changed").exists()


# --------------------------------------------------------------------------- REST


@pytest.mark.django_db
def test_rest_get_and_put(people, api_for):
    url = f"/api/v1/organizations/{people.org.slug}/sign-in-domains/"
    admin = api_for(people.admin)
    assert admin.get(url).json() == {"domains": [], "role": None, "enabled": False, "provider": None}
    r = admin.put(url, {"domains": ["Acme.example"], "role": "viewer"}, format="json")
    assert r.status_code == 200, r.content
    assert r.json() == {"domains": ["acme.example"], "role": "viewer", "enabled": True, "provider": None}
    assert AuditEvent.objects.filter(organization=people.org, event_type="organization.signin_domains_changed",
                                     actor=people.admin).count() == 1

    r = admin.put(url, {"domains": ["acme..example"], "role": "member"}, format="json")
    assert r.status_code == 400 and "domain name" in r.json()["detail"] and r.json()["field"] == "domains"
    r = admin.put(url, {"domains": ["acme.example"], "role": "owner"}, format="json")
    assert r.status_code == 400
    assert admin.get(url).json()["domains"] == ["acme.example"]


@pytest.mark.django_db
def test_rest_outsider_404_and_weak_roles_403(people, api_for):
    url = f"/api/v1/organizations/{people.org.slug}/sign-in-domains/"
    body = {"domains": ["evil.example"], "role": "reviewer"}
    assert api_for(people.outsider).get(url).status_code == 404
    assert api_for(people.outsider).put(url, body, format="json").status_code == 404
    for role in ("viewer", "member", "reviewer"):
        client = api_for(people.by_role(role))
        assert client.get(url).status_code == 403
        assert client.put(url, body, format="json").status_code == 403
    assert not SignInDomain.objects.exists()
    refused = AuditEvent.objects.filter(organization=people.org, event_type="access.refused")
    assert refused.count() == 3  # one per refused write
    assert not Membership.objects.filter(user__email__endswith="@evil.example").exists()
