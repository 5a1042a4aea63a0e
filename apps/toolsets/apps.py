from django.apps import AppConfig


class ToolsetsConfig(AppConfig):
    name = "apps.toolsets"
    label = "toolsets"
    verbose_name = "Toolsets"

    def ready(self):
        from apps.inventory import hooks as inventory_hooks
        from apps.projects.views import PROJECT_PAGE_EXTENSIONS

        from .selectors import toolset_token_bill
        from .views import project_panel

        if project_panel not in PROJECT_PAGE_EXTENSIONS:
            PROJECT_PAGE_EXTENSIONS.append(project_panel)
        # the inventory page and API show the toolsets' token bill (inventory never imports toolsets)
        inventory_hooks.provide_toolset_bill(toolset_token_bill)
