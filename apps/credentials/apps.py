from django.apps import AppConfig


class CredentialsConfig(AppConfig):
    name = "apps.credentials"
    label = "credentials"
    verbose_name = "Upstream credentials"

    def ready(self):
        from apps.risk import hooks as risk_hooks
        from apps.specs import hooks as spec_hooks

        from . import checks, keyring, services  # noqa: F401  (checks, keyring: the KEK system check and settings hook)
        from .models import Credential, CredentialVersion

        # the live Security Score notices credential changes (risk never imports credentials)
        risk_hooks.SCORE_SOURCES.update({
            "credential": lambda project: Credential.objects.filter(project=project),
            "secret": lambda project: CredentialVersion.objects.filter(credential__project=project),
        })
        spec_hooks.VERSION_ANALYSED["credentials"] = services.credentials_after_import
