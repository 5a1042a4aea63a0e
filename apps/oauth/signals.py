"""DOT deletes an access token to revoke it: revoke its gateway mirror in the same transaction."""

from django.db.models.signals import post_delete
from django.dispatch import receiver
from oauth2_provider.models import get_access_token_model

from . import services


@receiver(post_delete, sender=get_access_token_model(), dispatch_uid="mcpforge-oauth-access-token-gone")
def _access_token_deleted(sender, instance, **kwargs):
    services.access_token_gone(access_token_id=instance.pk)
