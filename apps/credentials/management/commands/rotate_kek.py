"""Re-wrap every credential data key under the active KEK, online."""

from django.core.management.base import BaseCommand, CommandError

from apps.credentials import crypto, keyring
from apps.credentials.services import kek_rotate, stored_kek_ids


class Command(BaseCommand):
    help = (
        "Re-wrap every stored data key under the active key-encryption key. Deploy the new key as "
        "MCPFORGE_KEK with the old one in MCPFORGE_KEK_PREVIOUS, run this, then drop MCPFORGE_KEK_PREVIOUS. "
        "Safe to run while serving and to re-run after an interruption."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Check every row can be re-wrapped; change nothing")

    def handle(self, *args, **options):
        try:
            provider = keyring.build_provider()
        except crypto.KeyConfigError as exc:
            raise CommandError(str(exc)) from None
        unknown = crypto.unknown_kek_ids(provider, stored_kek_ids())
        if unknown:
            raise CommandError(
                f"Rows are wrapped by KEK(s) {', '.join(unknown)} that are not configured; "
                "put the old key in MCPFORGE_KEK_PREVIOUS and run again.")
        try:
            result = kek_rotate(provider=provider, dry_run=options["dry_run"])
        except crypto.CryptoError as exc:
            raise CommandError(f"Rotation stopped: {exc}") from None
        verb = "would re-wrap" if options["dry_run"] else "re-wrapped"
        self.stdout.write(f"Active KEK: {result.active_kek_id}")
        self.stdout.write(f"Data keys {verb}: {result.rewrapped}")
        for table, count in sorted(result.by_table.items()):
            self.stdout.write(f"  {table}: {count}")
        self.stdout.write(f"Already on the active KEK: {result.already_current}")
        self.stdout.write(f"Canary {verb if result.canary_rewrapped else 'already current'}")
        if not options["dry_run"]:
            self.stdout.write(self.style.SUCCESS(
                "Done. Every data key is wrapped by the active KEK; MCPFORGE_KEK_PREVIOUS can be removed."))
