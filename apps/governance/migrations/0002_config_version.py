"""A per-project version number that changes whenever anything the MCP gateway caches changes.

The gateway keeps each project's governance (grants, approval policies, tool switches), its
current tools and its decrypted upstream credentials in memory, keyed by this number, and
reads the number in the same query that authenticates the caller. So a change committed by
any process (web, worker, shell, raw SQL) is seen by every gateway process on its very next
request, without the gateway re-reading the rules.

Database triggers, not service code, bump the number: a trigger cannot be forgotten by a
new service, a bulk update, a cascade delete or a data migration. Statement-level triggers
with transition tables bump once per statement (an import inserting 300 tools bumps once).

``governance_configversion`` has no foreign key on purpose: deleting a project deletes its
tools, whose trigger then writes a version row for a project id that no longer exists,
which must not make the delete fail. A stale row for a deleted project is harmless.

The upsert takes a row lock on the project's version row until the writing transaction
commits, so versions follow commit order: a reader never sees version n+1 before the data
of every change numbered up to n+1 is visible.
"""

from django.db import migrations

# table -> SQL selecting the affected project ids from a transition table named {rows}
TABLES = {
    "inventory_tool": "SELECT project_id FROM {rows}",
    "specs_specversion": "SELECT project_id FROM {rows}",
    "governance_toolsetting": "SELECT project_id FROM {rows}",
    "governance_grant": "SELECT project_id FROM {rows}",
    "governance_approvalpolicy": "SELECT project_id FROM {rows}",
    "credentials_credential": "SELECT project_id FROM {rows}",
    "credentials_credentialversion": (
        "SELECT c.project_id FROM {rows} r JOIN credentials_credential c ON c.id = r.credential_id"
    ),
}

TABLE = """
CREATE TABLE governance_configversion (
    project_id bigint PRIMARY KEY,
    version bigint NOT NULL DEFAULT 1,
    changed_at timestamptz NOT NULL DEFAULT now()
);
"""

BUMP = """
CREATE OR REPLACE FUNCTION mcpforge_bump_config_versions(project_ids bigint[]) RETURNS void AS $$
BEGIN
    INSERT INTO governance_configversion AS v (project_id, version, changed_at)
    SELECT DISTINCT id, 1, now() FROM unnest(project_ids) AS id WHERE id IS NOT NULL
    ORDER BY id  -- a fixed lock order, so two multi-project statements cannot deadlock
    ON CONFLICT (project_id) DO UPDATE SET version = v.version + 1, changed_at = now();
END;
$$ LANGUAGE plpgsql;
"""


def _function(table: str, select: str) -> str:
    new_ids = select.format(rows="new_rows")
    old_ids = select.format(rows="old_rows")
    return f"""
CREATE OR REPLACE FUNCTION mcpforge_cv_{table}() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM mcpforge_bump_config_versions(ARRAY({new_ids}));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM mcpforge_bump_config_versions(ARRAY({new_ids} UNION {old_ids}));
    ELSE
        PERFORM mcpforge_bump_config_versions(ARRAY({old_ids}));
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER mcpforge_cv_insert AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION mcpforge_cv_{table}();
CREATE TRIGGER mcpforge_cv_update AFTER UPDATE ON {table}
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION mcpforge_cv_{table}();
CREATE TRIGGER mcpforge_cv_delete AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION mcpforge_cv_{table}();
"""


def _reverse(table: str) -> str:
    return f"""
DROP TRIGGER IF EXISTS mcpforge_cv_insert ON {table};
DROP TRIGGER IF EXISTS mcpforge_cv_update ON {table};
DROP TRIGGER IF EXISTS mcpforge_cv_delete ON {table};
DROP FUNCTION IF EXISTS mcpforge_cv_{table}();
"""


FORWARD = TABLE + BUMP + "".join(_function(table, select) for table, select in TABLES.items())
REVERSE = "".join(_reverse(table) for table in TABLES) + """
DROP FUNCTION IF EXISTS mcpforge_bump_config_versions(bigint[]);
DROP TABLE IF EXISTS governance_configversion;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("governance", "0001_initial"),
        ("inventory", "0003_large_json_fields"),
        ("specs", "0001_initial"),
        ("credentials", "0001_initial"),
    ]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
