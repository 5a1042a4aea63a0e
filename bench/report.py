"""Security report benchmark: how long a report of a large project takes to build.

Builds (once) a project whose spec has N operations (default 400: 80 resources x list,
create, get, update, delete, with billing, administrative and personal-data resources so the
classifier, findings and approval suggestions have real work), governs it (risk-suggested
approval policies, role grants, tools enabled in production, a stored credential), then
times each stage of what the worker runs: snapshot (database reads), HTML, PDF.

    DATABASE_URL=postgres://... .venv/bin/python bench/report.py [--tools 400] [--runs 3]

Runs on a throwaway database (``mcpforge_bench_report_<pid>``, on the server of DATABASE_URL,
migrated and dropped at the end), its own Redis database and Celery queue (bench/isolation.py):
nothing is shared with a running instance.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.isolation import throwaway_database  # noqa: E402 - sets the bench's Redis and queue first

os.environ.setdefault("MCPFORGE_DEV_SECRET", "true")

LIMIT_S = 15.0

RESOURCES = (
    "payments", "refunds", "payouts", "invoices", "subscriptions", "charges", "transfers", "disputes",
    "users", "roles", "apiKeys", "permissions", "auditSettings", "organizations", "memberships", "sessions",
    "customers", "contacts", "addresses", "shoppers", "employees", "patients", "accounts", "cards",
    "orders", "carts", "products", "prices", "coupons", "shipments", "warehouses", "inventories",
    "files", "folders", "comments", "tasks", "projects", "boards", "labels", "attachments",
    "webhooks", "events", "notifications", "messages", "channels", "templates", "schedules", "jobs",
    "reports", "dashboards", "metrics", "alerts", "incidents", "tickets", "articles", "categories",
    "devices", "locations", "regions", "zones", "networks", "certificates", "domains", "records",
    "backups", "snapshots", "volumes", "images", "clusters", "nodes", "deployments", "releases",
    "tenants", "plans", "quotas", "usage", "credits", "taxRates", "ledgers", "statements",
)
PERSON = {"type": "object", "properties": {
    "email": {"type": "string", "format": "email"}, "phone": {"type": "string"},
    "name": {"type": "string", "maxLength": 200}, "dateOfBirth": {"type": "string", "format": "date"}}}


def synthetic_spec(count: int) -> bytes:
    paths: dict = {}
    ops = 0
    for i, resource in enumerate(RESOURCES * (count // (5 * len(RESOURCES)) + 1)):
        if ops >= count:
            break
        suffix = "" if i < len(RESOURCES) else str(i // len(RESOURCES) + 1)
        base = f"/v1/{resource}{suffix}"
        item = {"type": "object", "properties": {
            "id": {"type": "string", "maxLength": 64}, "amount": {"type": "integer"},
            "currency": {"type": "string", "maxLength": 3}, "owner": PERSON,
            "tags": {"type": "array", "items": {"type": "string"}}}}
        ident = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
        title = resource[0].upper() + resource[1:] + suffix
        candidates = {
            base: {
                "get": {"operationId": f"list{title}", "summary": f"List {resource}", "tags": [resource],
                        "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer"}}],
                        "responses": {"200": {"description": "ok", "content": {"application/json": {
                            "schema": {"type": "array", "items": item}}}}}},
                "post": {"operationId": f"create{title}", "summary": f"Create one of {resource}", "tags": [resource],
                         "requestBody": {"content": {"application/json": {"schema": item}}},
                         "responses": {"201": {"description": "created"}}},
            },
            base + "/{id}": {
                "get": {"operationId": f"get{title}", "summary": f"Get one of {resource}", "tags": [resource],
                        "parameters": ident, "responses": {"200": {"description": "ok", "content": {
                            "application/json": {"schema": item}}}}},
                "patch": {"operationId": f"update{title}", "summary": f"Update one of {resource}",
                          "tags": [resource], "parameters": ident,
                          "requestBody": {"content": {"application/json": {"schema": item}}},
                          "responses": {"200": {"description": "ok"}}},
                "delete": {"operationId": f"delete{title}", "summary": f"Permanently delete one of {resource}",
                           "tags": [resource], "parameters": ident, "responses": {"204": {"description": "gone"}}},
            },
        }
        for path, methods in candidates.items():
            for method, operation in methods.items():
                if ops < count:
                    paths.setdefault(path, {})[method] = operation
                    ops += 1
    doc = {"openapi": "3.0.3", "info": {"title": f"Bench API ({count} operations)", "version": "1.0"},
           "servers": [{"url": "https://api.bench.example.com"}],
           "components": {"securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}}},
           "security": [{"ApiKey": []}], "paths": paths}
    return json.dumps(doc).encode()


def setup(count: int):
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from apps.accounts.models import Organization
    from apps.accounts.services import organization_create, user_create
    from apps.credentials.services import credential_set
    from apps.governance import services as governance
    from apps.inventory.selectors import current_tools, current_version
    from apps.projects.models import Project
    from apps.projects.services import project_create
    from apps.risk.analysis import spec_analyse
    from apps.specs.models import SpecVersion
    from apps.specs.services import spec_import

    user = get_user_model().objects.filter(email="bench@reports.bench").first() or user_create(
        email="bench@reports.bench", password=None)  # no login: the bench user only owns the data
    org = Organization.objects.filter(slug="bench-reports").first() or organization_create(
        name="Bench Reports", actor=user)
    name = f"Bench {count}"
    project = Project.objects.filter(organization=org, name=name).first() or project_create(
        organization=org, name=name, actor=user)
    version = current_version(project)
    if version is None or version.tool_count != count:
        version = spec_import(project=project, data=synthetic_spec(count), source=SpecVersion.Source.CLI,
                              filename=f"bench-{count}.json", actor=user, run_async=False)
        spec_analyse(version_id=version.pk)
        version.refresh_from_db()
        if version.status != SpecVersion.Status.READY:
            raise SystemExit(f"analysis failed: {version.error}")
        with transaction.atomic():
            envs = {e.slug: e for e in project.environments.all()}
            governance.accept_suggested_policies(project=project, actor=user)
            governance.grant_create(project=project, actor=user, effect="allow", principal_kind="role",
                                    role="member", categories=["read_only"])
            governance.grant_create(project=project, actor=user, effect="allow", principal_kind="role",
                                    role="admin", all_tools=True)
            keys = [t.operation_key for t in current_tools(project)][: count // 2]
            governance.tool_set_enabled(project=project, environment=envs["production"], operation_keys=keys,
                                        enabled=True, actor=user, reason="Bench: a governed production surface")
            credential_set(environment=envs["production"], scheme_name="ApiKey",
                           values={"value": "bench-secret-value-0123456789"}, actor=user)
        project.owner_contact = "bench-owner@reports.bench"
        project.save(update_fields=["owner_contact"])
    return project, user


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tools", type=int, default=400)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    import logging

    import django

    django.setup()
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    with throwaway_database("report"):
        _run(args)


def _run(args) -> None:
    from apps.reports import render
    from apps.reports.snapshot import report_snapshot

    project, user = setup(args.tools)
    rows = []
    for run in range(1, args.runs + 1):
        wall, cpu = time.perf_counter(), time.process_time()
        snapshot = report_snapshot(project=project, environment=None, generated_by_label=user.email,
                                   report_id=f"bench-run-{run}")
        t_snapshot = time.perf_counter() - wall
        mark = time.perf_counter()
        html = render.report_html(snapshot.data)
        t_html = time.perf_counter() - mark
        mark = time.perf_counter()
        pdf, pages = render.report_pdf(html)
        t_pdf = time.perf_counter() - mark
        rows.append({"run": run, "snapshot": t_snapshot, "html": t_html, "pdf": t_pdf,
                     "total": time.perf_counter() - wall, "cpu": time.process_time() - cpu, "pages": pages,
                     "bytes": len(pdf), "tools": len(snapshot.data["tools"])})

    print(f"Security report benchmark: {args.tools}-tool project, {args.runs} runs, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"{'run':>4} {'tools':>6} {'pages':>6} {'PDF KB':>8} {'snapshot s':>11} {'HTML s':>8} {'PDF s':>7} "
          f"{'total s':>8} {'CPU s':>7}")
    for r in rows:
        print(f"{r['run']:>4} {r['tools']:>6} {r['pages']:>6} {r['bytes'] / 1024:>8.0f} {r['snapshot']:>11.2f} "
              f"{r['html']:>8.2f} {r['pdf']:>7.2f} {r['total']:>8.2f} {r['cpu']:>7.2f}")
    median = statistics.median(r["total"] for r in rows)
    verdict = "OK" if median < LIMIT_S else "TOO SLOW"
    print(f"median total {median:.2f} s (limit {LIMIT_S:.0f} s): {verdict}")
    if median >= LIMIT_S:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
