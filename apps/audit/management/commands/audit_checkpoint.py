"""Sign a checkpoint of each organization's audit chain head, or export the checkpoints."""

import json

from django.core.management.base import BaseCommand, CommandError

from apps.audit import hooks
from apps.audit.models import AuditCheckpoint
from apps.audit.services import ChainBroken, audit_checkpoint_create, checkpoint_export_row


class Command(BaseCommand):
    help = ("Sign a checkpoint (count + hash) of every organization's audit chain head that moved since "
            "its last one (after verifying the new events); --export FILE writes all checkpoints as JSON "
            "lines for safe keeping off this machine. Exit code 1 when a chain is broken.")

    def add_arguments(self, parser):
        parser.add_argument("--org", dest="org", help="Organization slug (default: all)")
        parser.add_argument("--export", metavar="FILE", help="Write the stored checkpoints to FILE ('-': stdout) "
                                                              "instead of creating new ones")

    def handle(self, *args, **options):
        orgs = hooks.organizations().order_by("slug")  # every organization (apps.accounts)
        if options["org"]:
            orgs = orgs.filter(slug=options["org"])
            if not orgs.exists():
                raise CommandError(f"No organization with slug {options['org']!r}")
        if options["export"]:
            return self._export(orgs, options["export"])
        broken = False
        for org in orgs:
            try:
                checkpoint = audit_checkpoint_create(organization=org)
            except ChainBroken as exc:
                broken = True
                self.stdout.write(f"{exc} (no checkpoint signed)")
                continue
            if checkpoint is None:
                self.stdout.write(f"{org.slug}: unchanged since the last checkpoint")
            else:
                self.stdout.write(f"{org.slug}: checkpoint at #{checkpoint.seq}")
        if broken:
            raise SystemExit(1)

    def _export(self, orgs, path: str) -> None:
        slugs = dict(orgs.values_list("pk", "slug"))
        rows = AuditCheckpoint.objects.filter(organization_id__in=slugs).order_by("organization_id", "seq")
        lines = [json.dumps(checkpoint_export_row(row, slugs[row.organization_id])) for row in rows.iterator()]
        text = "".join(line + "\n" for line in lines)
        if path == "-":
            self.stdout.write(text, ending="")
        else:
            try:
                with open(path, "w", encoding="utf-8") as handle:
                    handle.write(text)
            except OSError as exc:
                raise CommandError(f"Cannot write {path}: {exc.strerror}") from None
            self.stderr.write(f"{len(lines)} checkpoints written to {path}")
