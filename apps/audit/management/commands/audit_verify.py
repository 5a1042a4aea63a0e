"""Walk each organization's audit chain and report the first broken link (exit 1 if any)."""

from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import Organization
from apps.audit.services import audit_verify_organization


class Command(BaseCommand):
    help = "Verify the tamper-evident audit chain. Exit code 1 when a link is broken."

    def add_arguments(self, parser):
        parser.add_argument("--org", dest="org", help="Organization slug (default: all)")

    def handle(self, *args, **options):
        orgs = Organization.objects.order_by("slug")
        if options["org"]:
            orgs = orgs.filter(slug=options["org"])
            if not orgs.exists():
                raise CommandError(f"No organization with slug {options['org']!r}")
        broken = False
        for org in orgs:
            checked, brk = audit_verify_organization(org)
            if brk is None:
                self.stdout.write(f"{org.slug}: OK ({checked} events)")
            else:
                broken = True
                self.stdout.write(f"{org.slug}: BROKEN at event #{brk.seq} ({brk.event_id}): {brk.reason}")
        if broken:
            raise SystemExit(1)
