"""The process-wide key provider, built from settings, and the startup canary.

``get_provider()`` is what every seal/open in the credentials app goes through. The first
call verifies the stored KEK canary (creating it on a fresh database), so even a server
started without ``manage.py check`` refuses to use a wrong KEK; the system check in
``checks.py`` runs the same verification at startup.

Development default: when DEBUG or MCPFORGE_TESTING is on and no KEK is configured, a
random KEK is generated once into ``var/dev-kek`` (mode 0600) and used from then on.
Deleting that file makes every stored credential unreadable (and the startup check
says so). In production (neither flag) a missing KEK is a startup error.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from django.conf import settings
from django.core.signals import setting_changed
from django.db import IntegrityError, transaction

from . import crypto

_lock = threading.Lock()
_provider: crypto.KeyProvider | None = None

KEY_SETTINGS = (
    "MCPFORGE_KEK", "MCPFORGE_KEK_PREVIOUS", "MCPFORGE_DEV_KEK_FILE", "VAULT_ADDR", "VAULT_TOKEN",
    "VAULT_NAMESPACE", "VAULT_CACERT", "MCPFORGE_VAULT_TRANSIT_KEY", "MCPFORGE_VAULT_TRANSIT_MOUNT",
)


def _dev_kek(path: Path) -> str:
    """Read the development KEK, creating it on first use (race-safe across processes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(crypto.generate_kek() + "\n")
    return path.read_text(encoding="utf-8").strip()


def key_environ() -> dict[str, str]:
    """The crypto module's environment mapping, from settings (which already resolved *_FILE)."""
    environ = {
        crypto.ENV_KEK: settings.MCPFORGE_KEK or "",
        crypto.ENV_KEK_PREVIOUS: settings.MCPFORGE_KEK_PREVIOUS or "",
        crypto.ENV_VAULT_ADDR: settings.VAULT_ADDR or "",
        crypto.ENV_VAULT_TOKEN: settings.VAULT_TOKEN or "",
        crypto.ENV_VAULT_NAMESPACE: settings.VAULT_NAMESPACE or "",
        crypto.ENV_VAULT_CACERT: settings.VAULT_CACERT or "",
        crypto.ENV_VAULT_KEY: settings.MCPFORGE_VAULT_TRANSIT_KEY or "",
        crypto.ENV_VAULT_MOUNT: settings.MCPFORGE_VAULT_TRANSIT_MOUNT or "",
    }
    dev_file = settings.MCPFORGE_DEV_KEK_FILE
    if not environ[crypto.ENV_KEK] and not environ[crypto.ENV_VAULT_ADDR] and dev_file:
        environ[crypto.ENV_KEK] = _dev_kek(Path(dev_file))
    return environ


def build_provider() -> crypto.KeyProvider:
    """A fresh provider from the current settings; raises ``crypto.KeyConfigError``."""
    return crypto.load_key_provider_from_env(key_environ())


def load_canary():
    from .models import KeyCanary

    return KeyCanary.objects.filter(name="kek").first()


def verify_or_create_canary(provider: crypto.KeyProvider) -> None:
    """Open the stored canary with ``provider`` (``KeyConfigError`` if it cannot), or store a
    fresh one on a new database."""
    from .models import KeyCanary

    row = load_canary()
    sealed = crypto.verify_canary(provider, row.sealed if row else None)
    if row is None:
        canary = KeyCanary(name="kek")
        canary.set_sealed(sealed)
        try:
            with transaction.atomic():
                canary.save()
        except IntegrityError:  # another process stored one first: it must open with our key too
            crypto.verify_canary(provider, load_canary().sealed)


def get_provider() -> crypto.KeyProvider:
    """The verified provider of this process (built and canary-checked on first use)."""
    global _provider
    if _provider is not None:
        return _provider
    with _lock:
        if _provider is None:
            provider = build_provider()
            verify_or_create_canary(provider)
            _provider = provider
    return _provider


def reset() -> None:
    """Forget the cached provider (settings changed, or a test swapped the KEK)."""
    global _provider
    with _lock:
        _provider = None


def _on_setting_changed(*, setting, **kwargs):
    if setting in KEY_SETTINGS:
        reset()


setting_changed.connect(_on_setting_changed)
