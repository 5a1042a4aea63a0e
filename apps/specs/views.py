"""Import pages, version pages with live progress (the version diff: apps/inventory/views.py)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.core.errors import DomainError
from apps.core.views import form_error
from apps.projects.selectors import project_access

from . import services
from .forms import PasteForm, UploadForm, UrlForm
from .models import SpecVersion
from .selectors import version_for, versions_of


@login_required
def spec_import(request, org_slug, project_slug):
    access, project = project_access(request.user, org_slug, project_slug, "project.view")
    tab = request.POST.get("via") or request.GET.get("via") or "upload"
    forms = {"upload": UploadForm(), "paste": PasteForm(),
             "url": UrlForm(initial={"url": request.GET.get("url", "")[:2000]})}  # "import again from the URL"
    if request.method == "POST":
        access.require("spec.import")
        form_class = {"upload": UploadForm, "paste": PasteForm, "url": UrlForm}.get(tab, UploadForm)
        form = form_class(request.POST, request.FILES)
        forms[tab] = form
        if form.is_valid():
            try:
                if tab == "upload":
                    upload = form.cleaned_data["file"]
                    version = services.spec_import(
                        project=project,
                        data=upload.read(),
                        source=SpecVersion.Source.UPLOAD,
                        filename=upload.name,
                        actor=request.user,
                    )
                elif tab == "paste":
                    version = services.spec_import(
                        project=project,
                        data=form.cleaned_data["document"].encode(),
                        source=SpecVersion.Source.PASTE,
                        filename="pasted",
                        actor=request.user,
                    )
                else:
                    version = services.spec_import_url(
                        project=project, url=form.cleaned_data["url"], actor=request.user
                    )
            except DomainError as exc:
                form_error(request, form, exc)
            else:
                return redirect("specs:version", org_slug, project.slug, version.number)
    return render(
        request,
        "specs/import.html",
        {
            "access": access,
            "org": access.organization,
            "project": project,
            "forms": forms,
            "tab": tab,
            "crumb": "Import a spec",
            "active_nav": "projects",
        },
    )


@login_required
def version_list(request, org_slug, project_slug):
    access, project = project_access(request.user, org_slug, project_slug)
    versions = list(versions_of(project))
    return render(
        request,
        "specs/versions.html",
        {
            "access": access,
            "org": access.organization,
            "project": project,
            "versions": versions,
            "crumb": "Spec versions",
            "active_nav": "projects",
        },
    )


@login_required
def version_detail(request, org_slug, project_slug, number):
    access, project = project_access(request.user, org_slug, project_slug)
    version = version_for(project, number)
    return render(
        request,
        "specs/version.html",
        {
            "access": access,
            "org": access.organization,
            "project": project,
            "version": version,
            "crumb": f"Version {version.number}",
            "active_nav": "projects",
        },
    )


@login_required
def version_progress(request, org_slug, project_slug, number):
    """htmx partial polled by the version page until the analysis finishes."""
    access, project = project_access(request.user, org_slug, project_slug)
    version = version_for(project, number)
    response = render(
        request, "specs/_progress.html", {"org": access.organization, "project": project, "version": version}
    )
    if version.is_finished and request.htmx:
        response["HX-Refresh"] = "true"  # reload the page to show the finished version
    return response


@login_required
@require_POST
def version_retry(request, org_slug, project_slug, number):
    access, project = project_access(request.user, org_slug, project_slug, "spec.import")
    version = version_for(project, number)
    try:
        services.spec_retry(version=version, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("specs:version", org_slug, project.slug, version.number)
