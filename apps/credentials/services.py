"""Every write to upstream credentials, and the one place secrets are decrypted (``upstream_auth``).

Secrets go in through ``credential_set`` (first version or rotation) and come out only as
request headers/query/cookies for the gateway. They are never returned by an API, rendered,
logged or written to an audit payload; errors name the scheme and environment, not values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.audit.services import actor_label_for, audit_record
from apps.core.errors import DomainError
from apps.projects.services import environment_upstream_set  # moved to projects; still importable here

from . import crypto, keyring, oauth, schemes
from .models import Credential, CredentialVersion, KeyCanary
from .schemes import UpstreamAuth
from .selectors import spec_schemes

__all__ = [
    "CredentialMissing",
    "CredentialUnavailable",
    "UpstreamAuth",
    "credential_destroy_due",
    "credential_set",
    "environment_upstream_set",
    "kek_rotate",
    "upstream_auth",
]


class CredentialMissing(DomainError):
    """A tool needs a scheme that has no credential in this environment (message has no secret)."""

    status_code = 409


class CredentialUnavailable(DomainError):
    """A credential exists but cannot be used now (cannot decrypt, token endpoint refused)."""

    status_code = 502


def _aad(credential: Credential, number: int) -> bytes:
    return crypto.credential_aad(credential.public_id, number)


def _provider() -> crypto.KeyProvider:
    try:
        return keyring.get_provider()
    except crypto.KeyConfigError as exc:
        raise CredentialUnavailable(f"Credential encryption is not configured correctly: {exc}") from None


# --------------------------------------------------------------------------- set / rotate / destroy


def _clean_config(kind: str, info: schemes.SchemeInfo, overrides: dict[str, Any] | None) -> dict[str, Any]:
    config = dict(info.config)
    overrides = overrides or {}
    if kind == schemes.OAUTH2_CLIENT_CREDENTIALS:
        token_url = str(overrides.get("token_url") or config.get("token_url") or "").strip()
        if not token_url.startswith(("https://", "http://")):
            raise DomainError("The token URL must be an http(s) URL.", field="token_url")
        scopes = overrides.get("scopes", config.get("scopes", []))
        if isinstance(scopes, str):
            scopes = scopes.split()
        client_auth = str(overrides.get("client_auth") or config.get("client_auth") or "basic")
        if client_auth not in ("basic", "post"):
            raise DomainError("Client authentication must be basic or post.", field="client_auth")
        config.update(token_url=token_url, scopes=[str(s) for s in scopes], client_auth=client_auth)
    elif kind == schemes.OAUTH2_TOKEN:
        config = {}
    return config


@transaction.atomic
def credential_set(*, environment, scheme_name: str, values: dict[str, Any], actor, kind: str | None = None,
                   config: dict[str, Any] | None = None) -> CredentialVersion:
    """Store a new secret for ``scheme_name`` in ``environment``: version 1, or a rotation.

    On rotation the new version becomes active at once and the previous one is kept as
    ``retiring`` for CREDENTIAL_ROTATION_GRACE_SECONDS (calls that already read it finish),
    then destroyed by a background task. Audited as credential.set / credential.rotated with
    version numbers only.
    """
    infos = spec_schemes(environment.project)
    info = infos.get(scheme_name)
    if info is None:
        raise DomainError(f"The current spec has no security scheme '{scheme_name}'.", field="scheme_name")
    if not info.supported:
        raise DomainError(info.note or f"Scheme '{scheme_name}' is not supported.", field="scheme_name")
    kind = kind or info.default_kind
    if kind not in info.kinds:
        raise DomainError(f"Scheme '{scheme_name}' takes {', '.join(info.kinds)}, not {kind}.", field="kind")
    try:
        secret = schemes.clean_secret(kind, values)
    except schemes.SchemeError as exc:
        raise DomainError(str(exc), field="values") from None
    clean_config = _clean_config(kind, info, config)
    provider = _provider()
    now = timezone.now()
    credential_destroy_due(now=now)  # sweep versions whose grace ended, even if no worker ran the task

    credential = (Credential.objects.select_for_update()
                  .filter(environment=environment, scheme_name=scheme_name).first())
    previous = None
    if credential is None:
        credential = Credential.objects.create(
            organization=environment.organization, project=environment.project, environment=environment,
            scheme_name=scheme_name, kind=kind, config=clean_config, active_version=0, rotated_at=now,
            set_by=actor, set_by_label=actor_label_for(actor))
    else:
        previous = credential.versions.filter(status=CredentialVersion.Status.ACTIVE).first()
        if previous is not None:
            grace = timedelta(seconds=settings.CREDENTIAL_ROTATION_GRACE_SECONDS)
            previous.status = CredentialVersion.Status.RETIRING
            previous.retire_after = now + grace
            previous.save(update_fields=["status", "retire_after", "updated_at"])
    number = (credential.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    sealed = crypto.encrypt_secret(json.dumps(secret, sort_keys=True), aad=_aad(credential, number), provider=provider)
    version = CredentialVersion(organization=credential.organization, credential=credential, number=number,
                                status=CredentialVersion.Status.ACTIVE,
                                masked=crypto.mask_secret(secret[schemes.MASKED_FIELD[kind]]),
                                created_by=actor, created_by_label=actor_label_for(actor))
    version.set_sealed(sealed)
    version.save()
    before = ({"version": previous.number, "kind": credential.kind, "set_at": credential.rotated_at.isoformat()}
              if previous else None)
    credential.kind, credential.config, credential.active_version = kind, clean_config, number
    credential.rotated_at, credential.set_by, credential.set_by_label = now, actor, actor_label_for(actor)
    credential.save()
    audit_record(
        organization=credential.organization,
        event_type="credential.rotated" if previous else "credential.set",
        actor=actor, target=credential, target_label=f"{scheme_name} in {environment.project.slug}/{environment.slug}",
        payload={"environment": environment.slug, "scheme": scheme_name,
                 "before": before,
                 "after": {"version": number, "kind": kind, "kek_id": sealed.kek_id, "set_at": now.isoformat()}},
    )
    if previous is not None:
        from .tasks import destroy_retired_credentials

        transaction.on_commit(lambda: destroy_retired_credentials.apply_async(
            countdown=settings.CREDENTIAL_ROTATION_GRACE_SECONDS + 1))
    return version


@transaction.atomic
def credentials_follow_spec(*, project, security_schemes: dict[str, Any], spec_version: int) -> int:
    """Move stored API keys to where the new current spec version says they go.

    The spec owns the placement of an API key (header, query parameter or cookie and its name;
    an admin only supplies the secret), and the gateway sends a credential as it was saved. So
    when a new version moves a key, say from header ``api_key`` to ``X-Api-Key``, every
    environment's credential for that scheme follows: same secret, new place, one
    ``credential.moved`` event each. A scheme the new version dropped, turned into another type,
    or placed where HTTP cannot carry a key is left as it is (the credentials page and the
    ``upstream_auth_unusable`` finding say why). Called by the spec analysis in the transaction
    that makes the version current; returns how many credentials moved.
    """
    moved = 0
    stored = (Credential.objects.select_for_update().select_related("environment", "organization")
              .filter(project=project, kind=schemes.API_KEY).order_by("pk"))
    for credential in stored:
        raw = security_schemes.get(credential.scheme_name)
        if not isinstance(raw, dict):
            continue
        info = schemes.describe_scheme(credential.scheme_name, raw)
        if not info.supported or schemes.API_KEY not in info.kinds or credential.config == info.config:
            continue
        before = dict(credential.config)
        credential.config = dict(info.config)
        credential.save(update_fields=["config", "updated_at"])
        environment = credential.environment
        audit_record(
            organization=credential.organization, event_type="credential.moved", actor=None,
            actor_label="analysis worker", target=credential,
            target_label=f"{credential.scheme_name} in {project.slug}/{environment.slug}",
            payload={"project": project.slug, "environment": environment.slug, "scheme": credential.scheme_name,
                     "spec_version": spec_version, "before": before, "after": credential.config},
        )
        moved += 1
    return moved


@transaction.atomic
def credential_destroy_due(*, now=None) -> int:
    """Wipe the sealed columns of retiring versions whose grace period is over. Returns how many."""
    now = now or timezone.now()
    due = list(CredentialVersion.objects.select_for_update(skip_locked=True)
               .filter(status=CredentialVersion.Status.RETIRING, retire_after__lte=now)
               .select_related("credential__environment__project"))
    for version in due:
        oauth.forget(str(version.public_id))
        version.status = CredentialVersion.Status.DESTROYED
        version.destroyed_at = now
        version.ciphertext = version.nonce = version.wrapped_dek = b""
        version.kek_id = ""
        version.save(update_fields=["status", "destroyed_at", "ciphertext", "nonce", "wrapped_dek", "kek_id",
                                    "updated_at"])
        credential = version.credential
        audit_record(organization=credential.organization, event_type="credential.destroyed", actor=None,
                     target=credential,
                     target_label=f"{credential.scheme_name} in {credential.environment.project.slug}/"
                                  f"{credential.environment.slug}",
                     payload={"environment": credential.environment.slug, "scheme": credential.scheme_name,
                              "before": {"version": version.number, "status": "retiring"},
                              "after": {"version": version.number, "status": "destroyed"}})
    return len(due)


# --------------------------------------------------------------------------- KEK rotation


@dataclass
class KekRotation:
    """What ``kek_rotate`` did."""

    active_kek_id: str
    rewrapped: int = 0
    already_current: int = 0
    canary_rewrapped: bool = False
    by_table: dict[str, int] = field(default_factory=dict)
    by_organization: dict[int, int] = field(default_factory=dict)


def sealed_tables() -> list[tuple[type, str]]:
    """Every (model, column prefix) holding a ``crypto.Sealed`` value, found by column names
    (``<p>ciphertext``, ``<p>nonce``, ``<p>wrapped_dek``, ``<p>kek_id``), so secrets other apps
    seal with the same KEK (e.g. approval webhook signing secrets) are rotated too. The
    canary is excluded: it is handled last."""
    found = []
    for model in apps.get_models():
        names = {f.name for f in model._meta.concrete_fields}
        for name in sorted(names):
            if name.endswith("kek_id"):
                prefix = name[: -len("kek_id")]
                siblings = {f"{prefix}ciphertext", f"{prefix}nonce", f"{prefix}wrapped_dek"}
                if siblings <= names and model is not KeyCanary:
                    found.append((model, prefix))
    return found


def stored_kek_ids() -> set[str]:
    """Every KEK id some stored row (or the canary) still needs."""
    ids = set(KeyCanary.objects.values_list("kek_id", flat=True))
    for model, prefix in sealed_tables():
        ids |= set(model.objects.exclude(**{f"{prefix}kek_id": ""}).values_list(f"{prefix}kek_id", flat=True)
                   .distinct())
    return ids


def _sealed_of(row, prefix: str) -> crypto.Sealed:
    return crypto.Sealed(ciphertext=bytes(getattr(row, f"{prefix}ciphertext") or b""),
                         nonce=bytes(getattr(row, f"{prefix}nonce") or b""),
                         wrapped_dek=bytes(getattr(row, f"{prefix}wrapped_dek") or b""),
                         kek_id=getattr(row, f"{prefix}kek_id"))


def kek_rotate(*, provider: crypto.KeyProvider | None = None, dry_run: bool = False) -> KekRotation:
    """Re-wrap every stored data key under the active KEK (``MCPFORGE_KEK``), online.

    Run after deploying the new key as MCPFORGE_KEK with the old one in MCPFORGE_KEK_PREVIOUS.
    Rows are locked and re-wrapped one by one in short transactions (the ciphertext is not
    touched; a credential's DEK is first proven to open its ciphertext), so the gateway keeps
    working and a crash can simply be re-run. Covers every sealed column set of the project
    (``sealed_tables``); the canary goes last, then MCPFORGE_KEK_PREVIOUS can be removed.
    Audited once per organization (credential.kek_rotated).
    """
    provider = provider or keyring.build_provider()
    active = provider.active_kek_id
    result = KekRotation(active_kek_id=active)
    for model, prefix in sealed_tables():
        kek_field = f"{prefix}kek_id"
        result.already_current += model.objects.filter(**{kek_field: active}).count()
        pending = list(model.objects.exclude(**{f"{kek_field}__in": ["", active]}).values_list("pk", flat=True))
        for pk in pending:
            with transaction.atomic():
                row = model.objects.select_for_update().filter(pk=pk).first()
                if row is None or getattr(row, kek_field) in ("", active):
                    continue
                aad = _aad(row.credential, row.number) if model is CredentialVersion else None
                sealed = crypto.rewrap(_sealed_of(row, prefix), old_provider=provider, new_provider=provider, aad=aad)
                if not dry_run:
                    setattr(row, f"{prefix}wrapped_dek", sealed.wrapped_dek)
                    setattr(row, kek_field, sealed.kek_id)
                    update = [f"{prefix}wrapped_dek", kek_field]
                    if any(f.name == "updated_at" for f in model._meta.concrete_fields):
                        update.append("updated_at")
                    row.save(update_fields=update)
                result.rewrapped += 1
                label = model._meta.label
                result.by_table[label] = result.by_table.get(label, 0) + 1
                org_id = getattr(row, "organization_id", None)
                if org_id is not None:
                    result.by_organization[org_id] = result.by_organization.get(org_id, 0) + 1
    with transaction.atomic():
        canary = KeyCanary.objects.select_for_update().filter(name="kek").first()
        if canary is not None and crypto.needs_rewrap(canary.sealed, provider):
            sealed = crypto.rewrap(canary.sealed, old_provider=provider, new_provider=provider, aad=crypto.CANARY_AAD)
            if not dry_run:
                canary.set_sealed(sealed)
                canary.save(update_fields=["wrapped_dek", "kek_id", "updated_at"])
            result.canary_rewrapped = True
        if not dry_run and result.by_organization:
            from apps.accounts.models import Organization

            for org in Organization.objects.filter(pk__in=result.by_organization):
                audit_record(organization=org, event_type="credential.kek_rotated", actor=None,
                             actor_label="manage.py rotate_kek", target=org,
                             payload={"kek_id": active, "rewrapped": result.by_organization[org.pk]})
    if not dry_run:
        keyring.reset()
    return result


# --------------------------------------------------------------------------- use (the gateway)


def _decrypt(credential: Credential, version: CredentialVersion, provider) -> dict[str, str]:
    try:
        plaintext = crypto.decrypt_secret(version.sealed, aad=_aad(credential, version.number), provider=provider)
    except crypto.CryptoError:
        raise CredentialUnavailable(
            f"The credential for scheme '{credential.scheme_name}' in {credential.environment.slug} cannot be "
            "decrypted with the configured key.") from None
    return json.loads(plaintext)


@dataclass(frozen=True)
class SecretMaterial:
    """One decrypted credential ready to be placed on a request. The gateway keeps these in
    memory per project config version (a rotation or deletion changes the version), so a
    call does not query and decrypt; ``secret`` never appears in a repr."""

    scheme_name: str
    kind: str
    config: dict[str, Any]
    version_id: str
    secret: dict[str, str] = field(repr=False)


def upstream_secrets(environment, tool) -> tuple[SecretMaterial, ...]:
    """The decrypted credentials a call of ``tool`` in ``environment`` must carry.

    ``tool.security`` is a list of alternatives (OpenAPI: any one requirement object will
    do), each naming schemes that must all be sent. The first alternative whose schemes all
    have an active credential here is used; an empty alternative (or no security at all)
    means anonymous access, ``()``. Otherwise ``CredentialMissing("No credential configured
    for scheme 'x' in production")``, naming the first missing scheme, never a value. Two
    queries (none for anonymous tools).
    """
    alternatives = [req for req in (tool.security or []) if isinstance(req, dict)]
    if not alternatives:
        return ()
    needed = {name for req in alternatives for name in req}
    credentials = {c.scheme_name: c for c in Credential.objects.filter(environment=environment,
                                                                       scheme_name__in=needed)}
    active = {v.credential_id: v for v in CredentialVersion.objects.filter(
        credential__in=list(credentials.values()), status=CredentialVersion.Status.ACTIVE)} if credentials else {}
    for req in alternatives:
        if all(name in credentials and credentials[name].pk in active for name in req):
            if not req:
                return ()
            provider = _provider()
            materials = []
            for name in req:
                credential, version = credentials[name], active[credentials[name].pk]
                credential.environment = environment
                materials.append(SecretMaterial(scheme_name=name, kind=credential.kind, config=dict(credential.config),
                                                version_id=str(version.public_id),
                                                secret=_decrypt(credential, version, provider)))
            return tuple(materials)
    first_missing = next(name for name in alternatives[0]
                         if name not in credentials or credentials[name].pk not in active)
    raise CredentialMissing(f"No credential configured for scheme '{first_missing}' in {environment.slug}")


def auth_from_secrets(materials: tuple[SecretMaterial, ...], environment) -> UpstreamAuth:
    """Headers/query/cookies carrying ``materials``. OAuth2 client credentials fetch an access
    token from the token endpoint, cached per credential version until shortly before it
    expires (``oauth.client_credentials_token``)."""
    auth = UpstreamAuth()
    for material in materials:
        token = None
        if material.kind == schemes.OAUTH2_CLIENT_CREDENTIALS:
            config, secret = material.config, material.secret
            try:
                token = oauth.client_credentials_token(
                    cache_key=material.version_id, token_url=config["token_url"], client_id=secret["client_id"],
                    client_secret=secret["client_secret"], scopes=list(config.get("scopes", [])),
                    client_auth=config.get("client_auth", "basic"),
                    allow_private_network=environment.allow_private_network)
            except oauth.TokenError as exc:
                raise CredentialUnavailable(
                    f"OAuth2 token for scheme '{material.scheme_name}' in {environment.slug} unavailable: {exc}"
                ) from None
        try:
            auth.merge(schemes.apply_credential(material.kind, material.config, material.secret, access_token=token))
        except schemes.SchemeError as exc:  # stored before its placement was refused; set it up again
            raise CredentialUnavailable(f"The credential for scheme '{material.scheme_name}' in "
                                        f"{environment.slug} cannot be used: {exc}") from None
    return auth


def upstream_auth(environment, tool) -> UpstreamAuth:
    """Decrypted headers/query/cookies for calling ``tool`` upstream in ``environment``:
    ``upstream_secrets`` then ``auth_from_secrets``. Two queries, plus the token endpoint for
    OAuth2 client credentials when its cached token expired."""
    return auth_from_secrets(upstream_secrets(environment, tool), environment)


def credentials_after_import(*, project, version, security_schemes) -> None:
    """specs.hooks.VERSION_ANALYSED["credentials"]: the spec owns where an API key goes, so
    stored keys follow a placement this version moved."""
    credentials_follow_spec(project=project, security_schemes=security_schemes, spec_version=version.number)
