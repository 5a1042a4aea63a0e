"""Offline scan of an OpenAPI document for CI pipelines: no database, no network, no environment.

    python manage.py scan openapi.yaml --format sarif --fail-on high > mcpforge.sarif

Runs in a bare shell (``env -i PATH=/usr/bin:/bin``): ``manage.py`` gives this command the
minimal ``mcpforge.settings_scan`` (no SECRET_KEY, database, cache or broker) unless
DJANGO_SETTINGS_MODULE is set. Prints the Security Score, each tool's classification and the
findings: JSON (shape documented in ``apps.risk.report.scan_result``), Markdown, or SARIF 2.1.0
(``apps.risk.sarif``). Exit status: 0 ok, 1 the score is under ``--fail-under`` or a finding is at
or above ``--fail-on`` (the report is still printed), 2 the document is unusable or unreadable, or
an option is invalid (the reason on stderr).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

EXIT_UNDER_THRESHOLD = 1
EXIT_UNUSABLE = 2
FAIL_ON = ("low", "medium", "high", "critical")


class Command(BaseCommand):
    help = (
        "Classify and score an OpenAPI document offline (no database, no environment needed): "
        "JSON, Markdown or SARIF, CI exit codes."
    )
    # The system checks query the database (credential key canary); a CI runner has none.
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="OpenAPI 2.0 / 3.0 / 3.1 document, JSON or YAML")
        parser.add_argument(
            "--format", choices=["json", "markdown", "sarif"], default="json", help="output format (json)"
        )
        parser.add_argument(
            "--fail-under",
            type=int,
            default=None,
            metavar="N",
            help="exit with status 1 when the Security Score is under N (0-100)",
        )
        parser.add_argument(
            "--fail-on",
            choices=FAIL_ON,
            default=None,
            help="exit with status 1 when a finding has this severity or a higher one",
        )

    def execute(self, *args, **options):
        # argparse errors (unknown option, bad --format) exit 2 already; CommandError's default is 1,
        # which a CI gate would read as "findings". Every usage error is EXIT_UNUSABLE here.
        try:
            return super().execute(*args, **options)
        except CommandError as exc:
            if exc.returncode not in (EXIT_UNDER_THRESHOLD, EXIT_UNUSABLE):
                exc.returncode = EXIT_UNUSABLE
            raise

    def handle(self, *args, **options) -> None:
        from apps.inventory.toolgen import build_tools
        from apps.risk.report import scan_result, to_markdown
        from apps.risk.sarif import to_sarif
        from apps.risk.score import SEVERITIES
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
        elif options["format"] == "sarif":
            uri, base = artifact_uri(path)
            sarif = to_sarif(
                result,
                tools,
                artifact_uri=uri,
                uri_base_id=base,
                text=data.decode("utf-8-sig", errors="replace"),
                warnings=parsed.warnings,
            )
            self.stdout.write(json.dumps(sarif, indent=2, ensure_ascii=False))
        else:
            self.stdout.write(json.dumps(result, indent=2, ensure_ascii=False))
        if threshold is not None and result["score"] < threshold:
            raise CommandError(
                f"Security Score {result['score']} is under --fail-under {threshold}.", returncode=EXIT_UNDER_THRESHOLD
            )
        fail_on = options["fail_on"]
        if fail_on is not None:
            floor = SEVERITIES.index(fail_on)
            hits = [
                f
                for f in result["findings"]
                if f["severity"] in SEVERITIES and SEVERITIES.index(f["severity"]) >= floor
            ]
            if hits:
                raise CommandError(
                    f"{len(hits)} finding(s) at or above --fail-on {fail_on}, e.g. {hits[0]['code']}.",
                    returncode=EXIT_UNDER_THRESHOLD,
                )


def artifact_uri(path: Path) -> tuple[str, str | None]:
    """The spec's SARIF artifact URI: relative to the working directory (``%SRCROOT%``, the
    repository root in CI) when the file is under it, else an absolute ``file://`` URI."""
    resolved = path.resolve()
    try:
        relative = resolved.relative_to(Path.cwd().resolve())
    except ValueError:
        return resolved.as_uri(), None
    return quote(relative.as_posix()), "%SRCROOT%"
