"""Append an audit event in one statement: lock the organization's chain, read its tail,
hash and insert the new row, all inside ``mcpforge_audit_append``.

``audit_record`` is on the gateway's hot path (two events per tool call). Doing the same
steps from Django took five round trips (BEGIN or SAVEPOINT, lock, SELECT tail, INSERT,
COMMIT or RELEASE), each with its own ORM compilation; one function call replaces them.

Why PL/pgSQL and not one SQL statement with CTEs: a single statement reads with the snapshot
taken when it started, i.e. before it waited for the lock, so it could miss the row the
previous lock holder just committed and reuse its seq. In READ COMMITTED each statement of a
VOLATILE PL/pgSQL function takes a fresh snapshot, so the SELECT after the lock sees it.

The hash is the one chain.py defines, sha256(prev_hash || "\\n" || canonical_json(content)):
Python serialises the content around the seq value (chain.canonical_parts), the function
puts the seq it assigns in between. The lock key (19779 = 0x4D43 "MC", organization id) is
the one the previous Python writer took, so old and new writers serialise against each other.
The append-only trigger of 0002 is untouched; this only INSERTs.
"""

from django.db import migrations

FORWARD = r"""
CREATE FUNCTION mcpforge_audit_append(
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
    -- Serialise writers per organization so seq and prev_hash form one chain. Held until the
    -- enclosing transaction ends: the statement itself in autocommit, else the caller's.
    PERFORM pg_advisory_xact_lock(19779, p_organization_id::integer);
    SELECT e.seq, e.hash INTO v_seq, v_prev
      FROM audit_auditevent e
     WHERE e.organization_id = p_organization_id
     ORDER BY e.seq DESC
     LIMIT 1;  -- auditevent_unique_seq_per_org (organization_id, seq), scanned backwards
    IF NOT FOUND THEN
        v_seq := 0;
        v_prev := repeat('0', 64);  -- chain.GENESIS
    END IF;
    v_seq := v_seq + 1;
    v_hash := encode(sha256(convert_to(
        v_prev || E'\n' || p_content_prefix || v_seq::text || p_content_suffix, 'UTF8')), 'hex');
    INSERT INTO audit_auditevent AS e (
        public_id, organization_id, seq, created_at, actor_id, actor_label, event_type,
        target_type, target_id, target_label, payload, request_id, ip, user_agent, prev_hash, hash
    ) VALUES (
        p_public_id, p_organization_id, v_seq, p_created_at, p_actor_id, p_actor_label, p_event_type,
        p_target_type, p_target_id, p_target_label, p_payload, p_request_id, p_ip, p_user_agent,
        v_prev, v_hash
    )
    RETURNING e.id INTO id;
    seq := v_seq;
    hash := v_hash;
    prev_hash := v_prev;
END;
$$ LANGUAGE plpgsql VOLATILE;
"""

REVERSE = """
DROP FUNCTION IF EXISTS mcpforge_audit_append(
    bigint, uuid, timestamptz, bigint, varchar, varchar, varchar, varchar, varchar, jsonb,
    varchar, inet, varchar, text, text
);
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_trigger")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
