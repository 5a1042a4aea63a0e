from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"

    def ready(self):
        from apps.audit import hooks as audit_hooks

        from .models import ApiToken, Organization

        # the audit's commands and actor search read organizations and tokens (audit never imports accounts)
        audit_hooks.provide_accounts(
            organizations=lambda: Organization.objects.all(),
            token_prefixes=lambda organization, startswith: list(
                ApiToken.objects.filter(organization=organization, prefix__startswith=startswith)
                .values_list("prefix", flat=True)[:20]),
        )
