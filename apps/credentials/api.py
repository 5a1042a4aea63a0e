"""REST API of upstream credentials: list (masked) and set/rotate (write-only secret).

Reads need ``project.view``; writes ``credentials.manage``. No response ever contains a
secret: only the masked last 4 characters, version, age and where it is stored.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.accounts.api_base import TenantAPIView
from apps.core.errors import DomainError
from apps.projects.selectors import environment_for

from . import selectors, services
from .models import Credential

VIEW, MANAGE = "project.view", "credentials.manage"


def slot_json(slot: selectors.Slot) -> dict:
    credential, active = slot.credential, slot.active
    return {
        "scheme": slot.scheme_name,
        "type": slot.info.spec_type if slot.info else None,
        "placement": slot.info.placement if slot.info else None,
        "kinds": list(slot.info.kinds) if slot.info else [],
        "supported": bool(slot.info and slot.info.supported),
        "note": slot.info.note if slot.info else "The current spec no longer has this scheme.",
        "cannot_send": slot.cannot_send,
        "configured": active is not None,
        "kind": credential.kind if credential else None,
        "masked": active.masked if active else None,
        "version": active.number if active else None,
        "set_at": credential.rotated_at if credential else None,
        "set_by": credential.set_by_label if credential else None,
        "age_days": slot.age_days,
        "stale": slot.stale,
        "max_age_days": settings.CREDENTIAL_MAX_AGE_DAYS,
        "retiring_versions": [v.number for v in slot.retiring],
        "config": {k: v for k, v in (credential.config if credential else {}).items()},
        "tools": slot.tools,
    }


class CredentialInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Credential.Kind.values, required=False, allow_null=True, default=None)
    values = serializers.DictField(child=serializers.CharField(allow_blank=True, trim_whitespace=False),
                                   help_text='write-only secret fields, e.g. {"value": "..."} for an API key, '
                                             '{"username": "...", "password": "..."} for basic, '
                                             '{"client_id": "...", "client_secret": "..."} for client credentials')
    config = serializers.DictField(required=False, allow_null=True, default=None,
                                   help_text='client credentials only: token_url, scopes, client_auth')


class CredentialList(TenantAPIView):
    """Every security scheme of the current spec in this environment and its credential (masked)."""

    scope = "project"
    capabilities = {"GET": VIEW}

    def get(self, request, id, env):
        environment = environment_for(self.project, env)
        return Response({"environment": environment.slug, "base_url": environment.base_url,
                         "allow_private_network": environment.allow_private_network,
                         "storage": selectors.storage_description(),
                         "credentials": [slot_json(s) for s in selectors.environment_slots(environment)]})


class CredentialSet(TenantAPIView):
    """PUT sets the secret of a scheme (first version or rotation); the response is masked."""

    scope = "project"
    capabilities = {"PUT": MANAGE, "POST": MANAGE}  # POST: CredentialRotate

    rotate_only = False

    @extend_schema(request=CredentialInput)
    def put(self, request, id, env, scheme):
        environment = environment_for(self.project, env)
        data = CredentialInput(data=request.data)
        data.is_valid(raise_exception=True)
        exists = Credential.objects.filter(environment=environment, scheme_name=scheme).exists()
        if self.rotate_only and not exists:
            raise DomainError(f"No credential for scheme '{scheme}' in {environment.slug} to rotate; set it first.")
        services.credential_set(environment=environment, scheme_name=scheme, actor=request.user,
                                **data.validated_data)
        slot = next(s for s in selectors.environment_slots(environment) if s.scheme_name == scheme)
        return Response(slot_json(slot), status=status.HTTP_200_OK if exists else status.HTTP_201_CREATED)


class CredentialRotate(CredentialSet):
    """POST replaces an existing secret: the new version is active at once, the old one retires."""

    rotate_only = True

    @extend_schema(request=CredentialInput)
    def post(self, request, id, env, scheme):
        return self.put(request, id, env, scheme)
