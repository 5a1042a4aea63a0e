"""Import an OpenAPI document from the command line (CI pipelines, scripts)."""

import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from apps.core.errors import DomainError
from apps.projects.models import Project
from apps.specs.models import SpecVersion
from apps.specs.services import spec_import


class Command(BaseCommand):
    help = "Import PATH into ORG/PROJECT; with --wait, wait for the background analysis and print the result."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--project", required=True, help="ORG/PROJECT slugs")
        parser.add_argument("--user", help="Email of the importing user (default: the organization's first owner)")
        parser.add_argument("--wait", action="store_true", help="Wait for the analysis (needs a running worker)")
        parser.add_argument("--timeout", type=int, default=300)

    def handle(self, *args, **options):
        org_slug, _, project_slug = options["project"].partition("/")
        project = (
            Project.objects.select_related("organization")
            .filter(organization__slug=org_slug, slug=project_slug)
            .first()
        )
        if project is None:
            raise CommandError(f"No project {options['project']!r} (expected ORG/PROJECT)")
        user = self._user(project, options["user"])
        path = Path(options["path"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}") from exc
        try:
            version = spec_import(
                project=project, data=data, source=SpecVersion.Source.CLI, filename=path.name, actor=user
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"Imported {path.name} as {project.organization.slug}/{project.slug} v{version.number}; analysis queued."
        )
        if not options["wait"]:
            return
        deadline = time.monotonic() + options["timeout"]
        while time.monotonic() < deadline:
            version.refresh_from_db()
            if version.is_finished:
                break
            time.sleep(0.5)
        else:
            raise CommandError(
                f"Timed out after {options['timeout']} s at stage {version.stage} (is a Celery worker running?)"
            )
        if version.status == SpecVersion.Status.FAILED:
            raise CommandError(f"Analysis failed: {version.error}")
        score = (version.score or {}).get("score")
        self.stdout.write(
            self.style.SUCCESS(
                f"Ready: {version.tool_count} tools, {len(version.warnings)} warnings"
                + (f", Security Score {score}" if score is not None else "")
            )
        )

    @staticmethod
    def _user(project, email):
        users = get_user_model().objects
        if email:
            user = users.filter(email__iexact=email, memberships__organization=project.organization).first()
            if user is None:
                raise CommandError(f"{email} is not a member of {project.organization.slug}")
            return user
        user = (
            users.filter(memberships__organization=project.organization, memberships__role="owner")
            .order_by("pk")
            .first()
        )
        if user is None:
            raise CommandError("The organization has no owner; pass --user")
        return user
