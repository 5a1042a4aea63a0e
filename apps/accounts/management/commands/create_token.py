"""Print a new personal API token for a user (for scripts and CI)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import Membership
from apps.accounts.services import token_create
from apps.core.errors import DomainError


class Command(BaseCommand):
    help = "Create an API token for a user and print it once."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="User email")
        parser.add_argument("--name", required=True, help="Token name")
        parser.add_argument("--org", help="Organization slug (needed when the user is in several)")
        parser.add_argument("--expires-days", type=int, default=None)

    def handle(self, *args, **options):
        user = get_user_model().objects.filter(email__iexact=options["user"]).first()
        if user is None:
            raise CommandError(f"No user with email {options['user']}")
        memberships = Membership.objects.filter(user=user).select_related("organization")
        if options["org"]:
            memberships = memberships.filter(organization__slug=options["org"])
        memberships = list(memberships)
        if not memberships:
            raise CommandError(
                "The user is not a member of that organization"
                if options["org"]
                else "The user belongs to no organization"
            )
        if len(memberships) > 1:
            slugs = ", ".join(m.organization.slug for m in memberships)
            raise CommandError(f"The user is in several organizations ({slugs}); pass --org")
        try:
            _, raw = token_create(
                organization=memberships[0].organization,
                user=user,
                name=options["name"],
                expires_days=options["expires_days"],
                actor=user,
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(raw)
