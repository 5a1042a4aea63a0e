"""Startup check: the audit chain key must be configured and well formed.

Without it no audit event can be written (fail closed), so a deployment missing
AUDIT_CHAIN_KEY stops at boot with a message naming the variable rather than refusing every
change later. The message never contains key material.
"""

from __future__ import annotations

from django.core.checks import Error, register

from apps.core.kek import KeyConfigError

from . import keys


@register()
def audit_key_check(app_configs=None, **kwargs):
    try:
        keys.load_master_key()
    except KeyConfigError as exc:
        return [Error(f"Audit chain key is not usable: {exc}", id="audit.E001",
                      hint="Set AUDIT_CHAIN_KEY (base64 of 32 random bytes) or AUDIT_CHAIN_KEY_FILE; see README.")]
    return []
