from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "apps.inventory"
    label = "inventory"

    def ready(self):
        from apps.projects.views import PROJECT_PAGE_EXTENSIONS

        from .views import token_cost_panel

        # context only (no template of its own): the token cost rows of the spec panel
        if token_cost_panel not in PROJECT_PAGE_EXTENSIONS:
            PROJECT_PAGE_EXTENSIONS.append(token_cost_panel)
