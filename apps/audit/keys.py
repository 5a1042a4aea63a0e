"""The audit chain key, from settings: ``AUDIT_CHAIN_KEY`` (or ``_FILE``), base64 of 32 bytes.

Held like the KEK (apps/credentials/keyring.py) but separate from it: the KEK rotates, and a
chain written under one key must stay verifiable. The master key never reaches the database;
each append sends its organization's derived key (``chain.org_chain_key``) as a statement
parameter, which PostgreSQL uses for that statement only (migration 0006); checkpoints are
signed in Python with ``chain.checkpoint_key``. Development and tests without a key use
``var/dev-audit-key``, generated once (mode 0600); production without one is a startup error.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.signals import setting_changed

from apps.core.kek import KeyConfigError, decode_kek, generate_kek

from . import chain

SETTING = "AUDIT_CHAIN_KEY"
_lock = threading.Lock()
_master: bytes | None = None


def _dev_key(path: Path) -> str:
    """Read the development key, creating it on first use (race-safe across processes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(generate_kek() + "\n")
    return path.read_text(encoding="utf-8").strip()


def load_master_key() -> bytes:
    """The configured key; ``KeyConfigError`` (never echoing the value) when missing or malformed."""
    text = settings.AUDIT_CHAIN_KEY or ""
    if not text and settings.AUDIT_DEV_CHAIN_KEY_FILE:
        text = _dev_key(Path(settings.AUDIT_DEV_CHAIN_KEY_FILE))
    if not text:
        raise KeyConfigError(f"{SETTING} is not set; the audit chain cannot be written or verified")
    return decode_kek(text, source=SETTING)


def master_key() -> bytes:
    global _master
    if _master is None:
        with _lock:
            if _master is None:
                _master = load_master_key()
    return _master


class ChainKey(bytes):
    """Key bytes that do not print themselves: they travel in ``PendingEvent.params``, which
    tracebacks and debuggers show. psycopg sends it as bytea, like any bytes."""

    def __repr__(self) -> str:
        return "<audit chain key>"

    __str__ = __repr__


@lru_cache(maxsize=4096)
def _org_key(master: bytes, organization_id: int) -> ChainKey:
    return ChainKey(chain.org_chain_key(master, organization_id))


def org_key(organization_id: int) -> ChainKey:
    """The HMAC key of one organization's chain (cached: two appends per tool call)."""
    return _org_key(master_key(), organization_id)


def checkpoint_key() -> bytes:
    return chain.checkpoint_key(master_key())


def reset() -> None:
    global _master
    with _lock:
        _master = None
    _org_key.cache_clear()


def _on_setting_changed(*, setting, **kwargs):
    if setting in (SETTING, "AUDIT_DEV_CHAIN_KEY_FILE"):
        reset()


setting_changed.connect(_on_setting_changed)
