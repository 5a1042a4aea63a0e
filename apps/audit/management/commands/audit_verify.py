"""Walk each organization's audit chain and report the first broken link (exit 1 if any)."""

import json

from django.core.management.base import BaseCommand, CommandError

from apps.audit import hooks
from apps.audit.services import audit_verify_organization, checkpoint_from_export


class Command(BaseCommand):
    help = ("Verify the keyed audit chain against its head row and signed checkpoints. "
            "Exit code 1 when a link is broken.")

    def add_arguments(self, parser):
        parser.add_argument("--org", dest="org", help="Organization slug (default: all)")
        parser.add_argument("--incremental", action="store_true",
                            help="Check only the events after each organization's newest signed checkpoint")
        parser.add_argument("--checkpoints", metavar="FILE",
                            help="Also hold the chains against checkpoints exported by `audit_checkpoint --export`")

    def handle(self, *args, **options):
        orgs = hooks.organizations().order_by("slug")  # every organization (apps.accounts)
        if options["org"]:
            orgs = orgs.filter(slug=options["org"])
            if not orgs.exists():
                raise CommandError(f"No organization with slug {options['org']!r}")
        extra = self._exported(options["checkpoints"]) if options["checkpoints"] else []
        broken = False
        for org in orgs:
            checked, brk = audit_verify_organization(org, incremental=options["incremental"],
                                                     extra_checkpoints=extra)
            if brk is None:
                self.stdout.write(f"{org.slug}: OK ({checked} events)")
            else:
                broken = True
                where = f"event #{brk.seq}" + (f" ({brk.event_id})" if brk.event_id else "")
                self.stdout.write(f"{org.slug}: BROKEN at {where}: {brk.reason}")
        if broken:
            raise SystemExit(1)

    @staticmethod
    def _exported(path: str):
        try:
            with open(path, encoding="utf-8") as handle:
                lines = [line for line in handle if line.strip()]
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}") from None
        out = []
        for number, line in enumerate(lines, 1):
            try:
                out.append(checkpoint_from_export(json.loads(line)))
            except ValueError as exc:  # json.JSONDecodeError is a ValueError
                raise CommandError(f"{path}, line {number}: {exc}") from None
        return out
