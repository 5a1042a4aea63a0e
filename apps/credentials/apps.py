from django.apps import AppConfig


class CredentialsConfig(AppConfig):
    name = "apps.credentials"
    label = "credentials"
    verbose_name = "Upstream credentials"

    def ready(self):
        from . import checks, keyring  # noqa: F401  (registers the KEK system check and settings hook)
