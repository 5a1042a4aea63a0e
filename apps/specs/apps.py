from django.apps import AppConfig


class SpecsConfig(AppConfig):
    name = "apps.specs"
    label = "specs"

    def ready(self):
        from apps.projects.views import BASE_URL_SUGGESTERS, PROJECT_PAGE_EXTENSIONS

        from .panels import spec_panel
        from .selectors import suggested_base_url

        PROJECT_PAGE_EXTENSIONS.insert(0, spec_panel)
        if suggested_base_url not in BASE_URL_SUGGESTERS:
            BASE_URL_SUGGESTERS.append(suggested_base_url)
