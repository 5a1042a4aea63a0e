"""A per-organization number that changes whenever anything a gateway caller is built from changes.

The gateway keeps the caller it last read for each token and endpoint (token, user, role,
teams, organization, project, environment) and plans a warm tool call with it. The statement
that writes the call's ``tool.called`` row must prove that nothing of it changed since. It
used to do so by re-running the seven-table caller query and comparing an md5 of the whole
row; that check was about half the statement's cost. Now database triggers bump this epoch
for the organization on every change that could alter a cached caller, and the statement
compares two numbers read by primary key: this epoch and the project's config version
(governance migration 0002, which covers tools, grants, policies and credentials).

What bumps it (statement-level triggers with transition tables, as in governance 0002):
- ``accounts_apitoken``: an update of anything but ``last_used_at`` (the once-a-minute touch
  must not invalidate every cached caller), a delete. A new token cannot be in any cache.
- ``auth_user``: a change of username, email or is_active, for every organization the user is
  a member of (a cached caller is always a member).
- ``accounts_organization``, ``accounts_membership``, ``projects_project``,
  ``projects_environment``: any insert, update or delete.
- ``accounts_team_members`` (team membership): any insert, update or delete; ``accounts_team``:
  a delete.

No foreign key, for the reason governance 0002 gives: a cascade delete writes epochs for an
organization that is on its way out, which must not make the delete fail. Rows are never
deleted, so an epoch only ever grows: a cached value can never match again once it is stale.
A missing row reads as 0 and the first bump writes 1. The upsert holds the row lock until
commit, so epochs follow commit order (a reader that sees epoch n sees every change up to n).
"""

from django.db import migrations

TABLE = """
CREATE TABLE gateway_callerepoch (
    organization_id bigint PRIMARY KEY,
    epoch bigint NOT NULL DEFAULT 1,
    changed_at timestamptz NOT NULL DEFAULT now()
);
"""

BUMP = """
CREATE OR REPLACE FUNCTION mcpforge_bump_caller_epochs(organization_ids bigint[]) RETURNS void AS $$
BEGIN
    INSERT INTO gateway_callerepoch AS e (organization_id, epoch, changed_at)
    SELECT DISTINCT id, 1, now() FROM unnest(organization_ids) AS id WHERE id IS NOT NULL
    ORDER BY id  -- a fixed lock order, so two multi-organization statements cannot deadlock
    ON CONFLICT (organization_id) DO UPDATE SET epoch = e.epoch + 1, changed_at = now();
END;
$$ LANGUAGE plpgsql;
"""

ORG_OF_TEAM = "(SELECT tt.organization_id FROM accounts_team tt WHERE tt.id = {rows}.team_id)"

# table -> {operation: SQL selecting the affected organization ids}. UPDATE sees new_rows
# and old_rows, INSERT new_rows, DELETE old_rows.
TRIGGERS: dict[str, dict[str, str]] = {
    "accounts_apitoken": {
        "UPDATE": (
            "SELECT n.organization_id FROM new_rows n JOIN old_rows o ON o.id = n.id "
            "WHERE to_jsonb(n) - 'last_used_at' IS DISTINCT FROM to_jsonb(o) - 'last_used_at' "
            "UNION SELECT o.organization_id FROM new_rows n JOIN old_rows o ON o.id = n.id "
            "WHERE to_jsonb(n) - 'last_used_at' IS DISTINCT FROM to_jsonb(o) - 'last_used_at'"
        ),
        "DELETE": "SELECT organization_id FROM old_rows",
    },
    "auth_user": {
        "UPDATE": (
            "SELECT m.organization_id FROM new_rows n JOIN old_rows o ON o.id = n.id "
            "JOIN accounts_membership m ON m.user_id = n.id "
            "WHERE (n.username, n.email, n.is_active) IS DISTINCT FROM (o.username, o.email, o.is_active)"
        ),
    },
    "accounts_organization": {
        "INSERT": "SELECT id FROM new_rows",
        "UPDATE": "SELECT id FROM new_rows UNION SELECT id FROM old_rows",
        "DELETE": "SELECT id FROM old_rows",
    },
    "accounts_team_members": {
        "INSERT": f"SELECT {ORG_OF_TEAM.format(rows='new_rows')} FROM new_rows",
        "UPDATE": (f"SELECT {ORG_OF_TEAM.format(rows='new_rows')} FROM new_rows "
                   f"UNION SELECT {ORG_OF_TEAM.format(rows='old_rows')} FROM old_rows"),
        "DELETE": f"SELECT {ORG_OF_TEAM.format(rows='old_rows')} FROM old_rows",
    },
    "accounts_team": {
        "DELETE": "SELECT organization_id FROM old_rows",
    },
}
for _table in ("accounts_membership", "projects_project", "projects_environment"):
    TRIGGERS[_table] = {
        "INSERT": "SELECT organization_id FROM new_rows",
        "UPDATE": "SELECT organization_id FROM new_rows UNION SELECT organization_id FROM old_rows",
        "DELETE": "SELECT organization_id FROM old_rows",
    }

REFERENCING = {"INSERT": "NEW TABLE AS new_rows", "UPDATE": "NEW TABLE AS new_rows OLD TABLE AS old_rows",
               "DELETE": "OLD TABLE AS old_rows"}


def _trigger(table: str, operation: str, select: str) -> str:
    name = f"mcpforge_ce_{table}_{operation.lower()}"
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$
BEGIN
    PERFORM mcpforge_bump_caller_epochs(ARRAY({select}));
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER {name} AFTER {operation} ON {table}
    REFERENCING {REFERENCING[operation]} FOR EACH STATEMENT EXECUTE FUNCTION {name}();
"""


def _reverse(table: str, operation: str) -> str:
    name = f"mcpforge_ce_{table}_{operation.lower()}"
    return f"DROP TRIGGER IF EXISTS {name} ON {table};\nDROP FUNCTION IF EXISTS {name}();\n"


FORWARD = TABLE + BUMP + "".join(
    _trigger(table, operation, select) for table, ops in TRIGGERS.items() for operation, select in ops.items())
REVERSE = "".join(_reverse(table, operation) for table, ops in TRIGGERS.items() for operation in ops) + """
DROP FUNCTION IF EXISTS mcpforge_bump_caller_epochs(bigint[]);
DROP TABLE IF EXISTS gateway_callerepoch;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("projects", "0002_environment_upstream"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
