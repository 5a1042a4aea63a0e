"""Offline scan of an OpenAPI document for CI pipelines: no database, no network.

    python manage.py scan openapi.yaml --format markdown --fail-under 60

Prints the Security Score, each tool's classification and the findings (JSON by default,
shape documented in ``apps.risk.report.scan_result``). Exit status: 0 ok, 1 the score is
under ``--fail-under``, 2 the document is unusable (the reason on stderr).
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

EXIT_UNDER_THRESHOLD = 1
EXIT_UNUSABLE = 2


class Command(BaseCommand):
    help = "Classify and score an OpenAPI document offline (no database): JSON or Markdown, CI exit codes."
    # The system checks query the database (credential key canary); a CI runner has none.
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="OpenAPI 2.0 / 3.0 / 3.1 document, JSON or YAML")
        parser.add_argument("--format", choices=["json", "markdown"], default="json", help="output format (json)")
        parser.add_argument(
            "--fail-under",
            type=int,
            default=None,
            metavar="N",
            help="exit with status 1 when the Security Score is under N (0-100)",
        )

    def handle(self, *args, **options) -> None:
        from apps.inventory.toolgen import build_tools
        from apps.risk.report import scan_result, to_markdown
        from apps.specs.domain import SpecError
        from apps.specs.parse import load_document

        threshold = options["fail_under"]
        if threshold is not None and not 0 <= threshold <= 100:
            raise CommandError("--fail-under takes a score between 0 and 100.", returncode=EXIT_UNUSABLE)
        path = Path(options["path"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}", returncode=EXIT_UNUSABLE) from exc
        try:
            parsed = load_document(data, filename=path.name, max_bytes=settings.SPEC_MAX_BYTES)
            tools = build_tools(parsed)
        except SpecError as exc:
            raise CommandError(f"Unusable spec {path}: {exc}", returncode=EXIT_UNUSABLE) from exc
        result = scan_result(parsed, tools)
        if options["format"] == "markdown":
            title = f"MCPForge scan: {parsed.title or path.name} {parsed.version}".rstrip()
            self.stdout.write(to_markdown(result, title=title))
        else:
            self.stdout.write(json.dumps(result, indent=2, ensure_ascii=False))
        if threshold is not None and result["score"] < threshold:
            raise CommandError(
                f"Security Score {result['score']} is under --fail-under {threshold}.", returncode=EXIT_UNDER_THRESHOLD
            )
