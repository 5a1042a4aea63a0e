"""Fixtures for report tests: a project with a real imported spec, a ready report built by the
same service the worker runs, PDF text and page count through poppler (pdftotext, pdfinfo)."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.factories import import_spec, make_project


@pytest.fixture
def report_worker(celery_worker_process):
    """The real Celery worker process (``celery -A mcpforge worker -Q <CELERY_QUEUE> --pool=solo``,
    started by tests/conftest.py's celery_worker_process against the pytest database and this
    test's Redis/queue, and stopped afterwards). Use with ``django_db(transaction=True)``."""
    return celery_worker_process


@pytest.fixture
def adyen(people):
    """Acme's "Payments" project with the Adyen Checkout spec imported and analysed."""
    project = make_project(people.org, people.owner, name="Payments")
    version = import_spec(project, "adyen-checkout-v71.json", people.owner)
    assert version.status == "ready", version.error
    return project


def build_report(project, actor, environment=None):
    """Request a report and build it synchronously with the worker's own code path."""
    from apps.reports import services
    from apps.reports.models import Report

    report = services.report_request(project=project, environment=environment, actor=actor)
    services.report_build(report_id=report.pk)
    report = Report.objects.get(pk=report.pk)
    assert report.status == Report.Status.READY, report.error
    return report


def pdf_text(data: bytes) -> str:
    """The PDF's text (pdftotext -layout), whitespace runs collapsed to one space."""
    out = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True)
    return re.sub(r"\s+", " ", out.stdout.decode())


def pdf_pages(data: bytes) -> int:
    out = subprocess.run(["pdfinfo", "-"], input=data, capture_output=True, check=True).stdout.decode()
    return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))
