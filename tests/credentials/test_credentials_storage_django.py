"""What is really stored: a pg_dump of the test database holds no plaintext secret; rotating the
KEK keeps every credential decryptable; a wrong KEK stops `manage.py check` (and so the server)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.db import connection

from apps.credentials import crypto, keyring, services
from apps.credentials.models import CredentialVersion, KeyCanary
from apps.inventory.selectors import tool_by_name
from tests.conftest import REPO_ROOT
from tests.factories import import_spec, make_project

SECRETS = {
    "api_key": "pk_live_DUMPTEST_apikey_5f0c2e9a71b3",
    "bearer": "bearer-DUMPTEST-token-c81d9b0e6a4f",
    "password": "basic-DUMPTEST-password-7e2a90",
    "client_secret": "client-DUMPTEST-secret-3b9f1c",
}


def _set_everything(people):
    project = make_project(people.org, people.owner, name="Tic Tac Toe")
    import_spec(project, "tictactoe-v3.1.yaml", people.owner)
    env = project.environments.get(slug="production")
    services.credential_set(environment=env, scheme_name="defaultApiKey", values={"value": SECRETS["api_key"]},
                            actor=people.admin)
    services.credential_set(environment=env, scheme_name="bearerHttpAuthentication",
                            values={"token": SECRETS["bearer"]}, actor=people.admin)
    services.credential_set(environment=env, scheme_name="basicHttpAuthentication",
                            values={"username": "player-one", "password": SECRETS["password"]}, actor=people.admin)
    services.credential_set(environment=env, scheme_name="app2AppOauth",
                            values={"client_id": "game-client", "client_secret": SECRETS["client_secret"]},
                            actor=people.admin)
    # a rotation, so a retiring version is in the dump too
    services.credential_set(environment=env, scheme_name="defaultApiKey",
                            values={"value": SECRETS["api_key"] + "-v2"}, actor=people.admin)
    return project, env


def _pg_dump() -> bytes:
    db = connection.settings_dict
    cmd = ["pg_dump", "-h", db.get("HOST") or "127.0.0.1", "-U", db.get("USER") or "postgres", db["NAME"]]
    if db.get("PORT"):
        cmd += ["-p", str(db["PORT"])]
    env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}
    return subprocess.run(cmd, capture_output=True, check=True, env=env, timeout=120).stdout


@pytest.mark.django_db(transaction=True)
def test_pg_dump_of_the_database_contains_no_plaintext_secret(people):
    project, env = _set_everything(people)
    dump = _pg_dump()
    assert b"COPY public.credentials_credentialversion" in dump
    rows = CredentialVersion.objects.count()
    assert rows == 5
    for name, secret in SECRETS.items():
        for form in (secret, secret.encode().hex(), base64.b64encode(secret.encode()).decode(),
                     base64.urlsafe_b64encode(secret.encode()).decode()):
            assert form.encode() not in dump, f"{name} found in the dump as {form[:12]}..."
    basic_header = base64.b64encode(f"player-one:{SECRETS['password']}".encode())
    assert basic_header not in dump
    # what is there: masked last 4 characters (bullets as UTF-8) and the KEK id, not the secret
    assert ("\u2022" * 4 + SECRETS["bearer"][-4:]).encode() in dump
    assert keyring.get_provider().active_kek_id.encode() in dump
    # and the credentials still work from what is stored
    board = tool_by_name(project, "get-square")
    assert services.upstream_auth(env, board).headers == {"Authorization": f"Bearer {SECRETS['bearer']}"}


@pytest.mark.django_db
def test_kek_rotation_keeps_every_credential_decryptable(people, settings):
    old, new = crypto.generate_kek(), crypto.generate_kek()
    old_id, new_id = crypto.kek_id_for(crypto.decode_kek(old)), crypto.kek_id_for(crypto.decode_kek(new))
    settings.MCPFORGE_KEK, settings.MCPFORGE_KEK_PREVIOUS = old, ""
    KeyCanary.objects.all().delete()
    project, env = _set_everything(people)
    # another app's secret sealed with the same KEK (approval webhook signing secret) rotates too
    from apps.approvals.models import WebhookSettings
    from apps.approvals.webhook_services import webhook_secret, webhook_settings_update

    signing = "whsec_rotation_test_signing_secret_01"
    webhook_settings_update(organization=people.org, url="", enabled=False, email_reviewers=False,
                            new_secret=signing, actor=people.owner)
    assert WebhookSettings.objects.get().secret_kek_id == old_id
    versions = list(CredentialVersion.objects.exclude(status="destroyed"))
    assert {v.kek_id for v in versions} == {old_id} and len(versions) == 5
    ciphertexts = {v.pk: bytes(v.ciphertext) for v in versions}

    # the new key alone cannot read the old rows: the check refuses to start
    settings.MCPFORGE_KEK = new
    from apps.credentials.checks import kek_check

    assert [e.id for e in kek_check()] == ["credentials.E002"]

    # deploy new + previous, rotate online
    settings.MCPFORGE_KEK_PREVIOUS = old
    assert kek_check() == []
    call_command("rotate_kek", "--dry-run", stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert {v.kek_id for v in CredentialVersion.objects.exclude(status="destroyed")} == {old_id}
    call_command("rotate_kek", stdout=open(os.devnull, "w"))  # noqa: SIM115
    rotated = list(CredentialVersion.objects.exclude(status="destroyed"))
    assert {v.kek_id for v in rotated} == {new_id}
    assert {v.pk: bytes(v.ciphertext) for v in rotated} == ciphertexts   # only the data keys were re-wrapped
    assert KeyCanary.objects.get().kek_id == new_id
    call_command("rotate_kek", stdout=open(os.devnull, "w"))  # noqa: SIM115  (re-running is harmless)

    # drop the old key: everything still decrypts, including the retiring version
    settings.MCPFORGE_KEK_PREVIOUS = ""
    assert kek_check() == []
    provider = keyring.get_provider()
    for version in rotated:
        secret = services._decrypt(version.credential, version, provider)
        assert secret and all(isinstance(v, str) for v in secret.values())
    square = tool_by_name(project, "get-square")
    assert services.upstream_auth(env, square).headers == {"Authorization": f"Bearer {SECRETS['bearer']}"}
    hook = WebhookSettings.objects.get()
    assert hook.secret_kek_id == new_id and webhook_secret(hook) == signing
    assert services.stored_kek_ids() == {new_id}
    from apps.audit.models import AuditEvent

    event = AuditEvent.objects.get(event_type="credential.kek_rotated")
    assert event.payload == {"kek_id": new_id, "rewrapped": 6}


@pytest.mark.django_db
def test_rotate_kek_refuses_when_the_old_key_is_not_configured(people, settings):
    from django.core.management.base import CommandError

    settings.MCPFORGE_KEK, settings.MCPFORGE_KEK_PREVIOUS = crypto.generate_kek(), ""
    KeyCanary.objects.all().delete()
    _set_everything(people)
    settings.MCPFORGE_KEK = crypto.generate_kek()
    with pytest.raises(CommandError, match="not configured; put the old key in MCPFORGE_KEK_PREVIOUS"):
        call_command("rotate_kek")
    # even with a canary of the new key (say, it was deleted), rows the key cannot open stop the start
    from apps.credentials.checks import kek_check

    KeyCanary.objects.all().delete()
    (error,) = kek_check()
    assert error.id == "credentials.E003" and "not configured" in error.msg


def _manage_check(kek: str | None) -> subprocess.CompletedProcess:
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MCPFORGE_KEK", "VAULT_"))}
    env["DATABASE_URL"] = (f"postgres://{db.get('USER') or 'postgres'}@{db.get('HOST') or '127.0.0.1'}:"
                           f"{db.get('PORT') or 5432}/{db['NAME']}")
    env.setdefault("SECRET_KEY", "test")
    if kek is not None:
        env["MCPFORGE_KEK"] = kek
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=180)


@pytest.mark.django_db(transaction=True)
def test_wrong_kek_fails_loudly_at_startup(people):
    # a database that has a canary (written with this process's key) and a real credential
    _set_everything(people)
    keyring.verify_or_create_canary(keyring.get_provider())
    canary = KeyCanary.objects.get()
    assert canary.kek_id == keyring.get_provider().active_kek_id

    wrong = _manage_check(crypto.generate_kek())
    assert wrong.returncode != 0
    assert "credentials.E002" in wrong.stderr
    assert "Credential encryption key does not match this database" in wrong.stderr
    assert f"the stored KEK canary was wrapped by '{canary.kek_id}'" in wrong.stderr

    malformed = _manage_check("not-a-key")
    assert malformed.returncode != 0 and "credentials.E001" in malformed.stderr and "MCPFORGE_KEK" in malformed.stderr

    right_key = keyring.key_environ()[crypto.ENV_KEK]
    right = _manage_check(right_key)
    assert right.returncode == 0, right.stderr
    assert right_key not in right.stdout + right.stderr + wrong.stderr
