from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "apps.reports"
    label = "reports"

    def ready(self):
        from apps.accounts.views import ORG_HOME_CARDS
        from apps.projects.views import PROJECT_PAGE_EXTENSIONS

        from .dashboard import project_cards
        from .views import reports_panel

        PROJECT_PAGE_EXTENSIONS.append(reports_panel)
        if project_cards not in ORG_HOME_CARDS:
            ORG_HOME_CARDS.append(project_cards)
