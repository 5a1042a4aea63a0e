"""The organization foreign key of audit events loses its own index: the four composite indexes
(created, type, target, unique seq) all start with organization_id and serve every lookup by
organization, so the single-column index only cost an extra btree insert on every event."""



import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_initial'),
        ('audit', '0004_lock_key_for_large_ids'),
    ]

    operations = [
        migrations.AlterField(
            model_name='auditevent',
            name='organization',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='audit_events', to='accounts.organization'),
        ),
    ]
