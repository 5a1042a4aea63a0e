"""Project and environment pages."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from apps.accounts.access import org_access
from apps.core.errors import DomainError
from apps.core.views import form_error

from . import services
from .forms import EnvironmentForm, ProjectFactsForm, ProjectForm
from .selectors import environment_for, project_access
from .upstream import upstream_note


@login_required
def project_create(request, org_slug):
    access = org_access(request.user, org_slug, "project.manage")
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = services.project_create(
                organization=access.organization,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                actor=request.user,
            )
        except DomainError as exc:
            form_error(request, form, exc)
        else:
            messages.success(request, f"Project {project.name} created with development, staging and production.")
            return redirect("projects:detail", org_slug, project.slug)
    return render(request, "projects/create.html", {"form": form, "org": access.organization, "active_nav": "projects"})


@login_required
def project_detail(request, org_slug, project_slug):
    access, project = project_access(request.user, org_slug, project_slug)
    context = {
        "access": access,
        "org": access.organization,
        "project": project,
        "active_nav": "projects",
    }
    panels: list[str] = []
    for extension in PROJECT_PAGE_EXTENSIONS:
        data = dict(extension(request, access, project))
        panels.extend(data.pop("panels", []))
        context.update(data)
    context["project_panels"] = panels
    return render(request, "projects/detail.html", context)


# Later apps (specs, risk, governance, reports) add their panel data here: a callable
# (request, access, project) -> dict merged into the project page context; its "panels" key
# lists template names included on the page, in registration order.
PROJECT_PAGE_EXTENSIONS: list = []

# Apps that know a project's spec register here a callable (project) -> str: the upstream base
# URL the spec suggests (the specs app: its ``servers``); the first non-empty answer is offered.
BASE_URL_SUGGESTERS: list = []

UPSTREAM_MANAGE = "credentials.manage"


def _suggested_base_url(project) -> str:
    for suggest in BASE_URL_SUGGESTERS:
        url = suggest(project)
        if url:
            return url
    return ""


@login_required
def environment_settings(request, org_slug, project_slug, env_slug):
    """An environment's upstream settings: base URL and the private-network switch. Viewers and
    up read them (as text); writes need ``credentials.manage``, like the credentials they go with."""
    access, project = project_access(request.user, org_slug, project_slug, "project.view")
    env = environment_for(project, env_slug)
    typed = None
    if request.method == "POST":
        access.require(UPSTREAM_MANAGE)
        typed = {"base_url": request.POST.get("base_url", ""),
                 "allow_private_network": request.POST.get("allow_private_network") == "on"}
        try:
            services.environment_upstream_set(environment=env, actor=request.user, **typed)
        except DomainError as exc:
            messages.error(request, exc.message)  # the page again, with what was typed
        else:
            note = upstream_note(env.base_url, env.allow_private_network)
            saved = f"Upstream settings of {env.name} saved."
            if note is None:
                messages.success(request, saved)
            elif note.level == "warning":
                messages.warning(request, f"{saved} {note.text}")
            else:
                messages.success(request, f"{saved} {note.text}")
            return redirect("projects:environment", org_slug, project.slug, env.slug)
    return render(
        request,
        "projects/environment.html",
        {
            "access": access,
            "org": access.organization,
            "project": project,
            "env": env,
            "environments": project.environments.all(),
            "can_manage_upstream": access.can(UPSTREAM_MANAGE),
            "typed": typed,
            "suggested_base_url": "" if env.base_url or typed else _suggested_base_url(project),
            "note": upstream_note(env.base_url, env.allow_private_network),
            "active_nav": "projects",
        },
    )


@login_required
def project_settings(request, org_slug, project_slug):
    access, project = project_access(request.user, org_slug, project_slug, "project.view")
    facts = ProjectFactsForm(
        request.POST or None,
        initial={
            "description": project.description,
            "owner_contact": project.owner_contact,
            "rollback_procedure": project.rollback_procedure,
            "incident_response_plan": project.incident_response_plan,
        },
        prefix="facts",
    )
    env_form = EnvironmentForm(None, prefix="env")
    if request.method == "POST":
        access.require("project.manage")
        if "env-name" in request.POST:
            env_form = EnvironmentForm(request.POST, prefix="env")
            if env_form.is_valid():
                try:
                    env = services.environment_create(
                        project=project, name=env_form.cleaned_data["name"], actor=request.user
                    )
                except DomainError as exc:
                    form_error(request, env_form, exc)
                else:
                    messages.success(request, f"Environment {env.name} added.")
                    return redirect("projects:settings", org_slug, project.slug)
        elif facts.is_valid():
            services.project_update(project=project, actor=request.user, **facts.cleaned_data)
            messages.success(request, "Project details saved.")
            return redirect("projects:settings", org_slug, project.slug)
    return render(
        request,
        "projects/settings.html",
        {
            "access": access,
            "org": access.organization,
            "project": project,
            "facts": facts,
            "env_form": env_form,
            "environments": project.environments.all(),
            "active_nav": "projects",
        },
    )
