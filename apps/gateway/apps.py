from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "apps.gateway"
    label = "gateway"
    verbose_name = "MCP gateway"

    def ready(self):
        from apps.approvals import hooks as approval_hooks
        from apps.inventory import hooks as inventory_hooks
        from apps.projects.views import PROJECT_PAGE_EXTENSIONS

        from . import search_first, selectors, upstream
        from .views import project_panel

        if project_panel not in PROJECT_PAGE_EXTENSIONS:
            PROJECT_PAGE_EXTENSIONS.append(project_panel)
        # approved calls run through the gateway's upstream client (approvals never imports gateway)
        approval_hooks.provide_executor(upstream.execute_call)
        # the token bill prices a search-first listing (inventory never imports gateway)
        inventory_hooks.provide_search_first_listing(
            lambda: search_first.meta_tool_definitions(selectors.BUILTIN_STATUS_DEFINITION))
