from django.apps import AppConfig


class CredentialsConfig(AppConfig):
    name = "apps.credentials"
    label = "credentials"
    verbose_name = "Upstream credentials"

    def ready(self):
        from apps.governance import hooks as governance_hooks
        from apps.risk import hooks as risk_hooks
        from apps.specs import hooks as spec_hooks

        from . import checks, keyring, selectors, services  # noqa: F401  (checks, keyring: the KEK system check and settings hook)
        from .models import Credential, CredentialVersion

        # the live Security Score notices credential changes (risk never imports credentials)
        risk_hooks.SCORE_SOURCES.update({
            "credential": lambda project: Credential.objects.filter(project=project),
            "secret": lambda project: CredentialVersion.objects.filter(credential__project=project),
        })
        # governance's score facts and project panel read credential state (governance never imports credentials)
        governance_hooks.provide_credentials(ages=selectors.active_credential_ages,
                                             stale_count=selectors.stale_credential_count)
        spec_hooks.VERSION_ANALYSED["credentials"] = services.credentials_after_import
