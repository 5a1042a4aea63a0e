"""Pin tools that are on only by the risk default (read-only and side-effect tools in
development, not flagged by the poisoning scan) to their current definition, like 0004 did for
tools an admin enabled: a re-import's change then waits for review there too."""

from django.db import migrations, models
from django.utils import timezone


def pin_default_on(apps, schema_editor):
    from apps.governance.grants import default_enabled
    from apps.governance.rules import UNCLASSIFIED_CATEGORY
    from apps.inventory.definitions import definition_hash, definition_of

    Environment = apps.get_model("projects", "Environment")
    ToolSetting = apps.get_model("governance", "ToolSetting")
    Tool = apps.get_model("inventory", "Tool")
    now = timezone.now()
    for environment in Environment.objects.all().iterator():
        taken = set(ToolSetting.objects.filter(environment=environment).values_list("operation_key", flat=True))
        rows = []
        for tool in Tool.objects.filter(project_id=environment.project_id, spec_version__is_current=True):
            if tool.operation_key in taken or tool.poisoning:
                continue
            if not default_enabled(tool.category or UNCLASSIFIED_CATEGORY, environment.slug):
                continue
            definition = definition_of(tool)
            rows.append(ToolSetting(
                organization_id=environment.organization_id, project_id=environment.project_id,
                environment=environment, operation_key=tool.operation_key, enabled=True, by_default=True,
                changed_by_label="risk default", pinned_tool=tool, pinned_definition=definition,
                pinned_hash=definition_hash(definition), pinned_at=now, pinned_by_label="risk default"))
        ToolSetting.objects.bulk_create(rows, batch_size=500)


class Migration(migrations.Migration):
    dependencies = [("governance", "0004_pin_enabled_tools")]

    operations = [
        migrations.AddField(model_name="toolsetting", name="by_default", field=models.BooleanField(default=False)),
        migrations.RunPython(pin_default_on, migrations.RunPython.noop),
    ]
