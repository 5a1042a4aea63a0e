"""Create (idempotently) a demo organization with people, teams and a project."""

import os
import secrets

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from apps.accounts import services
from apps.accounts.models import Membership, Organization
from apps.projects.models import Project
from apps.projects.services import project_create

DEMO_ORG = "demo"
PEOPLE = [
    ("demo@example.com", Membership.Role.OWNER),
    ("reviewer@example.com", Membership.Role.REVIEWER),
    ("member@example.com", Membership.Role.MEMBER),
    ("viewer@example.com", Membership.Role.VIEWER),
]


class Command(BaseCommand):
    help = "Create the demo organization (safe to run repeatedly). Prints the demo password."

    def add_arguments(self, parser):
        parser.add_argument(
            "--password",
            default=os.environ.get("DEMO_PASSWORD"),
            help="Password for the demo users (default: DEMO_PASSWORD or random on first run)",
        )

    @transaction.atomic
    def handle(self, *args, **options):
        user_model = get_user_model()
        owner = user_model.objects.filter(email="demo@example.com").first()
        if owner is not None and Organization.objects.filter(slug=DEMO_ORG).exists():
            self.stdout.write(
                "Demo data already present: log in as demo@example.com "
                "(password printed on first run, or set with --password)."
            )
            if options["password"]:
                for email, _ in PEOPLE:
                    user = user_model.objects.filter(email=email).first()
                    if user:
                        user.set_password(options["password"])
                        user.save(update_fields=["password"])
                self.stdout.write("Demo passwords reset.")
            return
        password = options["password"] or secrets.token_urlsafe(12)
        users = {}
        for email, _ in PEOPLE:
            user = user_model.objects.filter(email=email).first() or services.user_create(email=email)
            user.set_password(password)
            user.save()
            EmailAddress.objects.update_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
            users[email] = user
        org = services.organization_create(name="Demo Corp", slug=DEMO_ORG, actor=users["demo@example.com"])
        for email, role in PEOPLE[1:]:
            Membership.objects.get_or_create(organization=org, user=users[email], defaults={"role": role})
        support = services.team_create(
            organization=org, name="Support", description="Customer support agents", actor=users["demo@example.com"]
        )
        platform = services.team_create(
            organization=org, name="Platform", description="Platform engineering", actor=users["demo@example.com"]
        )
        services.team_add_member(team=support, user=users["member@example.com"], actor=users["demo@example.com"])
        services.team_add_member(team=platform, user=users["reviewer@example.com"], actor=users["demo@example.com"])
        if not Project.objects.filter(organization=org, slug="petstore").exists():
            project_create(
                organization=org,
                name="Petstore",
                actor=users["demo@example.com"],
                description="The Swagger Petstore API, governed for the support assistant.",
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo organization created. Log in at http://127.0.0.1:8000 as demo@example.com "
                f"(also reviewer@, member@, viewer@example.com) with password: {password}"
            )
        )
