"""Event times against chain order, so that a date range can be read as a seq range (issue 22).

Filtering the audit log by date and showing the newest matches first read every event of the
range (a sort of tens of thousands of rows at a million events) or every event newer than it,
because ``created_at`` is only nearly in seq order: the application stamps an event before the
chain lock gives it its seq. ``audit_timeorder`` keeps, per organization, the newest
``created_at`` and the largest lag behind it ever inserted, updated by a row trigger on every
insert (whatever the writer). With that bound the selector turns a date range into seq bounds
with two one-row index lookups, exactly (selectors.date_seq_bounds). Rows are initialised here
from the existing events, in seq order, with the table locked against appends.
"""

import django.db.models.deletion
from django.db import migrations, models

FORWARD = r"""
ALTER TABLE audit_timeorder SET (fillfactor = 50);  -- room for HOT updates

INSERT INTO audit_timeorder (organization_id, max_created_at, max_lag)
SELECT organization_id, max(created_at), greatest(COALESCE(max(before_max - created_at), interval '0'), interval '0')
  FROM (SELECT organization_id, created_at,
               max(created_at) OVER (PARTITION BY organization_id ORDER BY seq
                                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before_max
          FROM audit_auditevent) e
 GROUP BY organization_id;

CREATE FUNCTION audit_track_time_order() RETURNS trigger AS $$
BEGIN
    INSERT INTO audit_timeorder AS t (organization_id, max_created_at, max_lag)
    VALUES (NEW.organization_id, NEW.created_at, interval '0')
    ON CONFLICT (organization_id) DO UPDATE
       SET max_created_at = greatest(t.max_created_at, EXCLUDED.max_created_at),
           max_lag = greatest(t.max_lag, t.max_created_at - EXCLUDED.max_created_at);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_event_time_order AFTER INSERT ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_track_time_order();
CREATE TRIGGER audit_timeorder_no_truncate BEFORE TRUNCATE ON audit_timeorder
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate();
"""

REVERSE = r"""
DROP TRIGGER IF EXISTS audit_timeorder_no_truncate ON audit_timeorder;
DROP TRIGGER IF EXISTS audit_event_time_order ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_track_time_order();
"""


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_initial'),
        ('audit', '0007_seq_ordered_filter_indexes'),
    ]

    operations = [
        # No append may run between reading the events and installing the trigger.
        migrations.RunSQL("LOCK TABLE audit_auditevent IN SHARE ROW EXCLUSIVE MODE", migrations.RunSQL.noop),
        migrations.CreateModel(
            name='AuditTimeOrder',
            fields=[
                ('organization', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, primary_key=True, related_name='+', serialize=False, to='accounts.organization')),
                ('max_created_at', models.DateTimeField()),
                ('max_lag', models.DurationField()),
            ],
            options={
                'db_table': 'audit_timeorder',
            },
        ),
        migrations.RunSQL(FORWARD, REVERSE),
    ]
