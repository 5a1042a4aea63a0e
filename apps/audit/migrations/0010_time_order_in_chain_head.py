"""The time-order bound moves into the chain-head row, written by the append itself (issue 16).

Migration 0008 kept each organization's newest ``created_at`` and largest lag behind it in
``audit_timeorder``, updated by an AFTER INSERT row trigger: a trigger invocation and an
``INSERT ... ON CONFLICT DO UPDATE`` on a second table for every event. Measured with
auto_explain on an append (nested statements): 0.055-0.068 ms of the 0.28-0.32 ms the
function took, the largest single part of what the append had grown by since issue 22, and
it is paid twice per tool call (its ``tool.called`` row on the agent's latency path).

``mcpforge_audit_append`` already updates the organization's head row under the chain lock;
the same UPDATE now also moves ``max_created_at`` and ``max_lag`` on (same rule as the
trigger: the lag is how far the new event's time is behind the newest time before it), so
the bound costs nothing extra. Every event reaches the table through this function (it is
what gives an event its seq; a row inserted any other way breaks the chain and
``audit_verify`` reports it), so nothing the trigger covered is lost. A head row whose time
order is unknown (NULL) gives no seq bounds: date filters still answer exactly, only slower.

The bounds are copied from ``audit_timeorder`` with the events table locked against appends,
recomputed from the events for any head without one, and the trigger, its function and the
table are dropped.
"""

import importlib

from django.db import migrations, models

_0006 = importlib.import_module("apps.audit.migrations.0006_keyed_chain_head_checkpoints")
_0008 = importlib.import_module("apps.audit.migrations.0008_event_time_order")


def _function_of(forward: str) -> str:
    """The CREATE FUNCTION mcpforge_audit_append statement of an earlier migration, as CREATE
    OR REPLACE (the reverse of this migration restores it)."""
    start = forward.index("CREATE FUNCTION mcpforge_audit_append(")
    end = forward.index("$$ LANGUAGE plpgsql VOLATILE;", start) + len("$$ LANGUAGE plpgsql VOLATILE;")
    return forward[start:end].replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


FORWARD = r"""
UPDATE audit_chainhead h
   SET max_created_at = t.max_created_at, max_lag = t.max_lag
  FROM audit_timeorder t
 WHERE t.organization_id = h.organization_id;

-- A head without a time-order row (none is expected): the bound from its events, as 0008 does.
UPDATE audit_chainhead h
   SET max_created_at = x.max_created_at, max_lag = x.max_lag
  FROM (SELECT organization_id, max(created_at) AS max_created_at,
               greatest(COALESCE(max(before_max - created_at), interval '0'), interval '0') AS max_lag
          FROM (SELECT organization_id, created_at,
                       max(created_at) OVER (PARTITION BY organization_id ORDER BY seq
                                             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before_max
                  FROM audit_auditevent
                 WHERE organization_id IN (SELECT organization_id FROM audit_chainhead
                                            WHERE max_created_at IS NULL)) e
         GROUP BY organization_id) x
 WHERE x.organization_id = h.organization_id AND h.max_created_at IS NULL;

DROP TRIGGER audit_event_time_order ON audit_auditevent;
DROP FUNCTION audit_track_time_order();

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
    -- The head by primary key: no look at the events table, whatever its size or statistics.
    -- A fresh snapshot (READ COMMITTED, VOLATILE function) sees the previous holder's commit.
    SELECT h.seq, h.hash INTO v_seq, v_prev
      FROM audit_chainhead h
     WHERE h.organization_id = p_organization_id;
    IF NOT FOUND THEN
        -- A new chain. (Should the head of an existing chain be missing, seq 1 is taken and
        -- auditevent_unique_seq_per_org refuses the row: fail closed.)
        v_seq := 0;
        v_prev := repeat('0', 64);  -- chain.GENESIS
    END IF;
    v_seq := v_seq + 1;
    v_hash := encode(hmac(convert_to(
        v_prev || E'\n' || p_content_prefix || v_seq::text || p_content_suffix, 'UTF8'), p_chain_key, 'sha256'), 'hex');
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
    -- The head moves on, and with it the time-order bound (selectors.date_seq_bounds): every
    -- SET expression reads the row as it was, so the lag is measured against the newest time
    -- before this event. An unknown bound (NULL lag) stays unknown.
    UPDATE audit_chainhead h
       SET seq = v_seq, hash = v_hash,
           max_lag = greatest(h.max_lag, h.max_created_at - p_created_at),
           max_created_at = greatest(h.max_created_at, p_created_at)
     WHERE h.organization_id = p_organization_id;
    IF NOT FOUND THEN
        INSERT INTO audit_chainhead (organization_id, seq, hash, max_created_at, max_lag)
        VALUES (p_organization_id, v_seq, v_hash, p_created_at, interval '0');
    END IF;
    seq := v_seq;
    hash := v_hash;
    prev_hash := v_prev;
END;
$$ LANGUAGE plpgsql VOLATILE;
"""

# Back to 0009: the previous function, then 0008's table contents, trigger and function (its
# FORWARD re-initialises audit_timeorder from the events, which DeleteModel's reverse has just
# re-created, empty).
REVERSE = _function_of(_0006.FORWARD) + "\n" + _0008.FORWARD


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_initial'),
        ('audit', '0009_payload_filter_indexes'),
    ]

    operations = [
        # No append may run between reading the bounds and replacing the function.
        migrations.RunSQL("LOCK TABLE audit_auditevent IN SHARE ROW EXCLUSIVE MODE", migrations.RunSQL.noop),
        migrations.AddField(
            model_name='auditchainhead',
            name='max_created_at',
            field=models.DateTimeField(null=True),
        ),
        migrations.AddField(
            model_name='auditchainhead',
            name='max_lag',
            field=models.DurationField(null=True),
        ),
        migrations.RunSQL(FORWARD, REVERSE),
        migrations.DeleteModel(
            name='AuditTimeOrder',
        ),
    ]
