"""An append moves the chain head with one UPDATE ... RETURNING instead of a SELECT and an UPDATE.

``mcpforge_audit_append`` (0010) read the organization's head row (seq, hash), hashed the new
event, inserted it, then updated the head: two statements on the same row under the chain
lock. The UPDATE now computes the new seq and hash from the row as it was (every SET
expression reads the old row) and returns them with the old hash, which it keeps in the new
``prev_hash`` column for that purpose: RETURNING gives the row as updated, so the link to the
previous event has to travel through a column. Measured with a PL/pgSQL loop of committed
appends (backend CPU from /proc, median of seven rounds of 2,000, a 400-byte payload): 170 µs
per append against 175-180 µs for 0010's function in the same run.

``prev_hash`` is only ever written by the append, always equal to the ``prev_hash`` of the
event the head points at (filled for existing heads below), and never read back to build the
chain: an append reads ``hash`` and ``seq``, as before. Everything else stays as 0010 left it:
the advisory lock, the time-order bound (``max_created_at``, ``max_lag``), a missing head of an
existing chain taking seq 1 so that ``auditevent_unique_seq_per_org`` refuses the row (fail
closed), HMAC-SHA256 under the key passed with each append.
"""

import importlib

from django.db import migrations, models

_0010 = importlib.import_module("apps.audit.migrations.0010_time_order_in_chain_head")

FORWARD = r"""
UPDATE audit_chainhead h
   SET prev_hash = e.prev_hash
  FROM audit_auditevent e
 WHERE e.organization_id = h.organization_id AND e.seq = h.seq;

CREATE OR REPLACE FUNCTION mcpforge_audit_append(
    p_organization_id bigint,
    p_public_id uuid,
    p_created_at timestamptz,
    p_actor_id bigint,
    p_actor_label varchar,
    p_event_type varchar,
    p_target_type varchar,
    p_target_id varchar,
    p_target_label varchar,
    p_payload jsonb,
    p_request_id varchar,
    p_ip inet,
    p_user_agent varchar,
    p_content_prefix text,
    p_content_suffix text,
    p_chain_key bytea,
    OUT id bigint,
    OUT seq bigint,
    OUT hash varchar,
    OUT prev_hash varchar
) AS $$
DECLARE
    v_seq bigint;
    v_prev varchar;
    v_hash varchar;
BEGIN
    IF p_chain_key IS NULL OR length(p_chain_key) <> 32 THEN
        RAISE EXCEPTION 'audit chain key missing or malformed' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Serialise writers per organization (see 0003, 0004); held until the transaction ends.
    PERFORM pg_advisory_xact_lock(19779, (p_organization_id % 2147483648)::integer);
    -- The head moves on by primary key (no look at the events table, whatever its size or
    -- statistics); a fresh snapshot (READ COMMITTED, VOLATILE function) sees the previous
    -- holder's commit. Every SET expression reads the row as it was: the new seq and hash
    -- follow from the old ones, prev_hash keeps the old hash for RETURNING, and the
    -- time-order bound (selectors.date_seq_bounds) measures the lag against the newest time
    -- before this event. An unknown bound (NULL lag) stays unknown.
    UPDATE audit_chainhead h
       SET seq = h.seq + 1,
           hash = encode(hmac(convert_to(
               h.hash || E'\n' || p_content_prefix || (h.seq + 1)::text || p_content_suffix, 'UTF8'),
               p_chain_key, 'sha256'), 'hex'),
           prev_hash = h.hash,
           max_lag = greatest(h.max_lag, h.max_created_at - p_created_at),
           max_created_at = greatest(h.max_created_at, p_created_at)
     WHERE h.organization_id = p_organization_id
    RETURNING h.seq, h.hash, h.prev_hash INTO v_seq, v_hash, v_prev;
    IF NOT FOUND THEN
        -- A new chain. (Should the head of an existing chain be missing, seq 1 is taken and
        -- auditevent_unique_seq_per_org refuses the row: fail closed.)
        v_seq := 1;
        v_prev := repeat('0', 64);  -- chain.GENESIS
        v_hash := encode(hmac(convert_to(
            v_prev || E'\n' || p_content_prefix || v_seq::text || p_content_suffix, 'UTF8'), p_chain_key, 'sha256'), 'hex');
        INSERT INTO audit_chainhead (organization_id, seq, hash, prev_hash, max_created_at, max_lag)
        VALUES (p_organization_id, v_seq, v_hash, v_prev, p_created_at, interval '0');
    END IF;
    INSERT INTO audit_auditevent AS e (
        public_id, organization_id, seq, created_at, actor_id, actor_label, event_type,
        target_type, target_id, target_label, payload, request_id, ip, user_agent, prev_hash, hash,
        chain_version
    ) VALUES (
        p_public_id, p_organization_id, v_seq, p_created_at, p_actor_id, p_actor_label, p_event_type,
        p_target_type, p_target_id, p_target_label, p_payload, p_request_id, p_ip, p_user_agent,
        v_prev, v_hash, 2
    )
    RETURNING e.id INTO id;
    seq := v_seq;
    hash := v_hash;
    prev_hash := v_prev;
END;
$$ LANGUAGE plpgsql VOLATILE;
"""


# 0010's function, through 0010's own helper (which takes a CREATE FUNCTION statement).
REVERSE = _0010._function_of(_0010.FORWARD.replace("CREATE OR REPLACE FUNCTION", "CREATE FUNCTION", 1))


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0010_time_order_in_chain_head'),
    ]

    operations = [
        # No append may run between filling prev_hash and replacing the function.
        migrations.RunSQL("LOCK TABLE audit_auditevent IN SHARE ROW EXCLUSIVE MODE", migrations.RunSQL.noop),
        migrations.AddField(
            model_name='auditchainhead',
            name='prev_hash',
            field=models.CharField(max_length=64, null=True),
        ),
        migrations.RunSQL(FORWARD, REVERSE),
    ]
