from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "apps.governance"
    label = "governance"
    verbose_name = "Governance"

    def ready(self):
        from apps.inventory import hooks as inventory_hooks
        from apps.projects import hooks as project_hooks
        from apps.projects.views import PROJECT_PAGE_EXTENSIONS
        from apps.risk import hooks as risk_hooks
        from apps.specs import hooks as spec_hooks

        from . import selectors, services
        from .models import ApprovalPolicy, Grant, ToolSetting
        from .views import project_panel

        if project_panel not in PROJECT_PAGE_EXTENSIONS:
            PROJECT_PAGE_EXTENSIONS.append(project_panel)
        # what lower apps call without importing governance (dependencies point down)
        inventory_hooks.provide_enablement(selectors.enabled_map)
        if services.pins_follow_rename not in inventory_hooks.TOOL_RENAMED:
            inventory_hooks.TOOL_RENAMED.append(services.pins_follow_rename)
        if services.pin_defaults_in_new_environment not in project_hooks.ENVIRONMENT_CREATED:
            project_hooks.ENVIRONMENT_CREATED.append(services.pin_defaults_in_new_environment)
        risk_hooks.provide_governance_facts(selectors.governance_facts)
        risk_hooks.SCORE_SOURCES.update({
            "setting": lambda project: ToolSetting.objects.filter(project=project),
            "grant": lambda project: Grant.objects.filter(project=project),
            "policy": lambda project: ApprovalPolicy.objects.filter(project=project),
        })
        if services.pin_defaults_after_override not in risk_hooks.OVERRIDE_CHANGED:
            risk_hooks.OVERRIDE_CHANGED.append(services.pin_defaults_after_override)
        spec_hooks.VERSION_ANALYSED["governance"] = services.definitions_after_import
