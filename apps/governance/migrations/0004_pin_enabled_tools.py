"""Pin every tool an admin has enabled to its current definition (apps/inventory/definitions.py),
so the gateway keeps serving exactly that until an admin reviews a re-import's change."""

from django.db import migrations
from django.utils import timezone


def pin_enabled(apps, schema_editor):
    from apps.inventory.definitions import definition_hash, definition_of

    ToolSetting = apps.get_model("governance", "ToolSetting")
    Tool = apps.get_model("inventory", "Tool")
    now = timezone.now()
    for setting in ToolSetting.objects.filter(enabled=True, pinned_tool__isnull=True).iterator():
        tool = Tool.objects.filter(project_id=setting.project_id, spec_version__is_current=True,
                                   operation_key=setting.operation_key).first()
        if tool is None:
            continue  # the operation is not in the current version: nothing is served for it
        definition = definition_of(tool)
        ToolSetting.objects.filter(pk=setting.pk).update(
            pinned_tool=tool, pinned_definition=definition, pinned_hash=definition_hash(definition),
            pinned_at=now, pinned_by_label=setting.changed_by_label or "migration")


class Migration(migrations.Migration):
    dependencies = [("governance", "0003_toolsetting_pins")]

    operations = [migrations.RunPython(pin_enabled, migrations.RunPython.noop)]
