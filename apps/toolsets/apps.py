from django.apps import AppConfig


class ToolsetsConfig(AppConfig):
    name = "apps.toolsets"
    label = "toolsets"
    verbose_name = "Toolsets"

    def ready(self):
        from apps.projects.views import PROJECT_PAGE_EXTENSIONS

        from .views import project_panel

        if project_panel not in PROJECT_PAGE_EXTENSIONS:
            PROJECT_PAGE_EXTENSIONS.append(project_panel)
