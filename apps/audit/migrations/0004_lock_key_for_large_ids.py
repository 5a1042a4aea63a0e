"""The chain lock's key for organization ids beyond 32 bits.

``mcpforge_audit_append`` (0003) locks ``pg_advisory_xact_lock(19779, organization_id::integer)``:
from id 2^31 on the cast fails ("integer out of range"), and since audit is fail-closed that
organization could no longer change anything. The second key is now the id modulo 2^31: the
same key as before for every id below it (old and new writers still serialise against each
other), and for larger ids at worst two organizations share a lock, which only serialises
their writers; each chain still reads its own tail under it.
"""

import importlib

from django.db import migrations

_0003 = importlib.import_module("apps.audit.migrations.0003_append_function")
OLD_LOCK = "PERFORM pg_advisory_xact_lock(19779, p_organization_id::integer);"
NEW_LOCK = "PERFORM pg_advisory_xact_lock(19779, (p_organization_id % 2147483648)::integer);"
assert OLD_LOCK in _0003.FORWARD

FORWARD = _0003.FORWARD.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION").replace(OLD_LOCK, NEW_LOCK)
REVERSE = _0003.FORWARD.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_append_function")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
