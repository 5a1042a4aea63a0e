"""Upstream authentication schemes: the pure module lives in apps/core/auth_schemes.py (risk,
below credentials in the dependency order, describes schemes too); credentials and the gateway
keep using this name."""

from apps.core.auth_schemes import *  # noqa: F403
