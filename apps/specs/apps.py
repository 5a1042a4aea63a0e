from django.apps import AppConfig


class SpecsConfig(AppConfig):
    name = "apps.specs"
    label = "specs"

    def ready(self):
        from apps.projects.views import PROJECT_PAGE_EXTENSIONS

        from .panels import spec_panel

        PROJECT_PAGE_EXTENSIONS.insert(0, spec_panel)
