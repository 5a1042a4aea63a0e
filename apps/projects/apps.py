from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "apps.projects"
    label = "projects"

    def ready(self):
        from apps.accounts.api_base import register_scope

        from .selectors import project_access_by_id

        def project_scope(view, user, capability):
            """``scope = "project"``: the project named by the URL kwarg ``id`` (``view.project``)."""
            access, view.project = project_access_by_id(user, view.kwargs[view.project_kwarg], capability)
            return access

        register_scope("project", project_scope)
