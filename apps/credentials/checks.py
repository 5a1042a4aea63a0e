"""Startup check: the configured KEK must open the stored canary.

An Error here makes ``manage.py check``, ``migrate`` and ``runserver`` refuse to run, so a
deployment with a wrong, missing or truncated MCPFORGE_KEK stops at boot with a message
naming the variable, instead of failing tool calls later. The messages never contain key
material (crypto.py guarantees it for its exceptions).
"""

from __future__ import annotations

from django.core.checks import Error, Warning, register
from django.db import DatabaseError

from . import crypto, keyring


@register()
def kek_check(app_configs=None, **kwargs):
    try:
        provider = keyring.build_provider()
    except crypto.KeyConfigError as exc:
        return [Error(f"Credential encryption key is not usable: {exc}", id="credentials.E001",
                      hint="Set MCPFORGE_KEK (base64 of 32 bytes) or MCPFORGE_KEK_FILE; see README.")]
    try:
        keyring.verify_or_create_canary(provider)
        from .services import stored_kek_ids

        unknown = crypto.unknown_kek_ids(provider, stored_kek_ids())
    except crypto.KeyConfigError as exc:
        return [Error(f"Credential encryption key does not match this database: {exc}", id="credentials.E002",
                      hint="Start with the KEK the credentials were written with (MCPFORGE_KEK), keeping "
                           "retired keys in MCPFORGE_KEK_PREVIOUS until `manage.py rotate_kek` has run.")]
    except DatabaseError as exc:
        # Fresh database (tables not migrated yet) or database down: nothing to verify yet.
        return [Warning(f"KEK canary not verified: database not ready ({type(exc).__name__}).",
                        id="credentials.W001")]
    if unknown:
        return [Error(f"Stored secrets are wrapped by KEK(s) {', '.join(unknown)}, which are not configured.",
                      id="credentials.E003",
                      hint="Add the missing key to MCPFORGE_KEK_PREVIOUS, then run `manage.py rotate_kek`.")]
    return []
