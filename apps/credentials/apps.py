from django.apps import AppConfig


class CredentialsConfig(AppConfig):
    name = "apps.credentials"
    label = "credentials"
    verbose_name = "Upstream credentials"

    def ready(self):
        from apps.risk import hooks as risk_hooks

        from . import checks, keyring  # noqa: F401  (registers the KEK system check and settings hook)
        from .models import Credential, CredentialVersion

        # the live Security Score notices credential changes (risk never imports credentials)
        risk_hooks.SCORE_SOURCES.update({
            "credential": lambda project: Credential.objects.filter(project=project),
            "secret": lambda project: CredentialVersion.objects.filter(credential__project=project),
        })
