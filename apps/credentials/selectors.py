"""Reads of upstream credentials. Nothing here decrypts: pages and reports only ever see the
masked last 4 characters, ages and where the secret is kept."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from apps.inventory.selectors import current_tools, current_version

from . import crypto, keyring, schemes
from .models import Credential, CredentialVersion


def spec_schemes(project) -> dict[str, schemes.SchemeInfo]:
    """The security schemes of the project's current spec version, described."""
    version = current_version(project)
    raw = (version.security_schemes if version else None) or {}
    return {name: schemes.describe_scheme(name, scheme) for name, scheme in raw.items() if isinstance(scheme, dict)}


def age_days(credential: Credential, now: datetime | None = None) -> int:
    return max(0, ((now or timezone.now()) - credential.rotated_at).days)


def is_stale(credential: Credential, now: datetime | None = None) -> bool:
    return age_days(credential, now) > settings.CREDENTIAL_MAX_AGE_DAYS


def storage_description() -> str:
    """Where data keys are wrapped, for the credentials page and the security report."""
    try:
        provider = keyring.build_provider()
    except crypto.KeyConfigError:
        return "envelope encryption (key provider not configured)"
    kek = provider.active_kek_id
    if kek.startswith("vault:"):
        where = f"HashiCorp Vault transit key {kek[len('vault:'):]}"
    elif settings.MCPFORGE_KEK:
        where = f"a local key-encryption key (id {kek}) from MCPFORGE_KEK"
    else:
        where = f"the development key-encryption key (id {kek}) in var/dev-kek; set MCPFORGE_KEK in production"
    return f"Encrypted in the MCPForge database with AES-256-GCM, one data key per secret, wrapped by {where}"


@dataclass
class Slot:
    """One row of the credentials page: a scheme of the spec and what is stored for it."""

    scheme_name: str
    info: schemes.SchemeInfo | None
    credential: Credential | None = None
    active: CredentialVersion | None = None
    retiring: list[CredentialVersion] = field(default_factory=list)
    tools: int = 0

    @property
    def age_days(self) -> int | None:
        return age_days(self.credential) if self.credential else None

    @property
    def stale(self) -> bool:
        return bool(self.credential) and is_stale(self.credential)

    @property
    def in_spec(self) -> bool:
        return self.info is not None

    @property
    def cannot_send(self) -> str:
        """Why the gateway refuses to send the stored credential, or ``""``: an API key saved
        for a place HTTP cannot carry (the gateway places a credential as it was saved)."""
        credential = self.credential
        if credential is None or credential.kind != schemes.API_KEY:
            return ""
        config = credential.config or {}
        return schemes.placement_problem(str(config.get("in", "")), str(config.get("param", "")))


def tools_per_scheme(project) -> dict[str, int]:
    counts: dict[str, int] = {}
    for security in current_tools(project).values_list("security", flat=True):
        names = {name for requirement in (security or []) for name in requirement}
        for name in names:
            counts[name] = counts.get(name, 0) + 1
    return counts


def environment_slots(environment) -> list[Slot]:
    """Every scheme of the current spec (and any stored credential for a scheme it dropped)."""
    infos = spec_schemes(environment.project)
    stored = {c.scheme_name: c for c in Credential.objects.filter(environment=environment)}
    versions: dict[int, list[CredentialVersion]] = {}
    for version in CredentialVersion.objects.filter(credential__environment=environment).exclude(
            status=CredentialVersion.Status.DESTROYED).defer("ciphertext", "nonce", "wrapped_dek"):
        versions.setdefault(version.credential_id, []).append(version)
    counts = tools_per_scheme(environment.project)
    slots = []
    for name in [*infos, *sorted(set(stored) - set(infos))]:
        credential = stored.get(name)
        slot = Slot(scheme_name=name, info=infos.get(name), credential=credential, tools=counts.get(name, 0))
        for version in versions.get(credential.pk, []) if credential else []:
            if version.status == CredentialVersion.Status.ACTIVE:
                slot.active = version
            else:
                slot.retiring.append(version)
        slots.append(slot)
    return slots


def credential_flow(environment) -> list[dict]:
    """How the gateway authenticates upstream in ``environment``, one dict per security scheme,
    for the security report: scheme, what it needs and where the value goes, whether it is set,
    where it is stored, who may change it, its age and whether it is older than
    CREDENTIAL_MAX_AGE_DAYS. No secret, not even masked."""
    storage = storage_description()
    org = environment.organization
    flow = []
    for slot in environment_slots(environment):
        credential = slot.credential
        flow.append({
            "environment": environment.slug,
            "scheme": slot.scheme_name,
            "type": slot.info.spec_type if slot.info else "",
            "placement": slot.info.placement if slot.info else "scheme no longer in the spec",
            "kind": credential.kind if credential else "",
            "kind_label": credential.get_kind_display() if credential else "",
            "configured": bool(credential and slot.active),
            "version": credential.active_version if credential else 0,
            "set_at": credential.rotated_at.isoformat() if credential else None,
            "age_days": slot.age_days,
            "stale": slot.stale,
            "max_age_days": settings.CREDENTIAL_MAX_AGE_DAYS,
            "token_url": (credential.config.get("token_url", "") if credential else "")
            or (slot.info.config.get("token_url", "") if slot.info else ""),
            "storage": storage,
            "who_can_change": f"Owners and admins of {org.name} (capability credentials.manage); "
                              "every change is in the audit log",
            "exposed_to_agents": False,
            "tools": slot.tools,
        })
    return flow


def active_credential_ages(project) -> dict[int, dict[str, int]]:
    """{environment id: {scheme name: age in days}} of the project's credentials with an active
    secret (one query): governance's Security Score facts (apps.governance.hooks)."""
    now = timezone.now()
    ages: dict[int, dict[str, int]] = {}
    for credential in Credential.objects.filter(project=project).filter(
            versions__status=CredentialVersion.Status.ACTIVE).distinct():
        ages.setdefault(credential.environment_id, {})[credential.scheme_name] = age_days(credential, now)
    return ages


def stale_credential_count(project) -> int:
    """Credentials older than CREDENTIAL_MAX_AGE_DAYS (the governance panel of the project page)."""
    return len(credential_findings(project))


def credential_findings(project) -> list[dict]:
    """Credentials older than CREDENTIAL_MAX_AGE_DAYS, and schemes tools need but no credential covers."""
    findings = []
    now = timezone.now()
    for credential in Credential.objects.filter(project=project).select_related("environment"):
        if is_stale(credential, now):
            findings.append({
                "code": "credential_stale", "severity": "medium", "environment": credential.environment.slug,
                "scheme": credential.scheme_name,
                "title": f"Credential for {credential.scheme_name} in {credential.environment.name} is "
                         f"{age_days(credential, now)} days old (limit {settings.CREDENTIAL_MAX_AGE_DAYS})",
            })
    return findings
