from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "apps.gateway"
    label = "gateway"
    verbose_name = "MCP gateway"

    def ready(self):
        from apps.approvals import hooks as approval_hooks
        from apps.projects.views import PROJECT_PAGE_EXTENSIONS

        from . import upstream
        from .views import project_panel

        if project_panel not in PROJECT_PAGE_EXTENSIONS:
            PROJECT_PAGE_EXTENSIONS.append(project_panel)
        # approved calls run through the gateway's upstream client (approvals never imports gateway)
        approval_hooks.provide_executor(upstream.execute_call)
