"""Shared fixtures: one organization with a person in every role, plus an outsider
(hc/test.py style), and clients logged in as each of them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SPECS_DIR = Path(os.environ.get("MCPFORGE_SPECS_DIR", REPO_ROOT.parent / "shared" / "specs"))
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts"
PASSWORD = "correct-horse-battery-staple-42"


@dataclass
class People:
    org: object
    owner: object
    admin: object
    reviewer: object
    member: object
    viewer: object
    outsider: object
    other_org: object

    def by_role(self, role: str):
        return getattr(self, role)


def make_user(email: str):
    from allauth.account.models import EmailAddress

    from apps.accounts.services import user_create

    user = user_create(email=email, password=PASSWORD)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


@pytest.fixture
def people(db) -> People:
    from apps.accounts.models import Membership
    from apps.accounts.services import organization_create

    owner = make_user("owner@acme.test")
    org = organization_create(name="Acme", actor=owner)
    users = {"owner": owner}
    for role in ("admin", "reviewer", "member", "viewer"):
        users[role] = make_user(f"{role}@acme.test")
        Membership.objects.create(organization=org, user=users[role], role=role)
    outsider = make_user("outsider@evil.test")
    other_org = organization_create(name="Evil Corp", actor=outsider)
    return People(org=org, outsider=outsider, other_org=other_org, **users)


@pytest.fixture
def client_for(client):
    """client_for(user) -> a Django test client logged in as user (fresh client per user)."""
    from django.test import Client

    def make(user):
        c = Client()
        c.force_login(user)
        return c

    return make


@pytest.fixture
def api_for(people):
    """api_for(user) -> DRF APIClient authenticated with a real mcpf_ token of that user."""
    from rest_framework.test import APIClient

    from apps.accounts.models import Membership
    from apps.accounts.services import token_create

    def make(user):
        membership = Membership.objects.filter(user=user).select_related("organization").first()
        _, raw = token_create(organization=membership.organization, user=user, name="test")
        c = APIClient()
        c.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return c

    return make


@pytest.fixture
def audit_types():
    """audit_types(org) -> list of event types recorded for org, oldest first."""
    from apps.audit.models import AuditEvent

    def read(org):
        return list(AuditEvent.objects.filter(organization=org).order_by("seq").values_list("event_type", flat=True))

    return read
