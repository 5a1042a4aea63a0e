from django.apps import AppConfig


class OAuthConfig(AppConfig):
    name = "apps.oauth"
    label = "oauth"
    verbose_name = "OAuth authorization for MCP endpoints"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.gateway import hooks as gateway_hooks

        from . import gateway, signals  # noqa: F401 - signals connects the access-token mirror

        # the gateway authenticates OAuth access tokens through this (it never imports apps.oauth)
        gateway_hooks.provide_oauth(gateway_hooks.OAuthProvider(
            caller_params=gateway.caller_params, resource_metadata_url=gateway.resource_metadata_url,
            client_of_token=gateway.client_of_token))
