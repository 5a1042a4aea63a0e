"""The documented list of audit event types. Services may only record these.

Add a line here when a feature records a new kind of event; the audit log filter and the
docs list them from this table.
"""

EVENT_TYPES: dict[str, str] = {
    # organizations and people
    "organization.created": "An organization was created",
    "organization.updated": "Organization settings changed",
    "member.invited": "Someone was invited to the organization",
    "member.invitation_revoked": "A pending invitation was revoked",
    "member.joined": "An invitation was accepted",
    "member.role_changed": "A member's role changed",
    "member.removed": "A member was removed",
    "team.created": "A team was created",
    "team.deleted": "A team was deleted",
    "team.member_added": "A member was added to a team",
    "team.member_removed": "A member was removed from a team",
    "token.created": "An API token was created",
    "token.revoked": "An API token was revoked",
    # OAuth clients of the MCP endpoints (apps/oauth)
    "oauth.client_authorized": "A person authorised an OAuth client for an MCP endpoint",
    "oauth.client_denied": "A person refused an OAuth client's authorization request",
    "oauth.consent_refused": "An OAuth authorization request was refused (bad resource or reused state)",
    "oauth.client_revoked": "An OAuth client's access was revoked",
    "oauth.token_issued": "An OAuth access token was issued for an MCP endpoint",
    "oauth.token_revoked": "An OAuth access token was revoked",
    # projects
    "project.created": "A project was created",
    "project.updated": "Project details changed",
    "environment.created": "An environment was added to a project",
    "environment.updated": "An environment's settings changed",
    # specs and inventory
    "spec.imported": "An OpenAPI document was imported",
    "spec.import_failed": "An import was rejected or its analysis failed",
    "spec.analysis_retried": "A failed analysis was retried",
    "spec.analysed": "Analysis finished and the version became current",
    "tool.renamed": "A tool was renamed",
    "toolset.created": "A toolset (a curated subset of a project's tools with its own MCP endpoint) was created",
    "toolset.updated": "A toolset's tools, name or listing switches changed",
    "toolset.deleted": "A toolset was deleted",
    # risk
    "risk.overridden": "A tool's category or risk level was overridden",
    "risk.override_removed": "A risk override was removed",
    "risk.overrides_exported": "A project's risk overrides were exported as labelled data",
    # governance
    "tool.enabled": "A tool was enabled in an environment",
    "tool.disabled": "A tool was disabled in an environment",
    "tool.definition_changed": "A re-import changed an enabled tool's definition; the environment keeps the pinned one",
    "tool.definition_pinned": "Tools on by the risk default were pinned to the definition they are first served with",
    "tool.definition_accepted": "An admin accepted a tool's changed definition in an environment",
    "tool.definition_override": "An admin overrode the poisoning scan to serve a flagged tool definition",
    "tool.definition_refused": "Enabling or accepting a tool definition was refused",
    "tool.disabled_operation_removed": "A re-import removed an enabled operation; it was disabled in that environment",
    "grant.created": "A permission grant was created",
    "grant.deleted": "A permission grant was deleted",
    "policy.created": "An approval policy was created",
    "policy.updated": "An approval policy changed",
    "policy.deleted": "An approval policy was deleted",
    "credential.set": "An upstream credential was set",
    "credential.rotated": "An upstream credential was rotated",
    "credential.moved": "A new spec version moved where an API key is sent; the stored key followed",
    "credential.destroyed": "An old credential version was destroyed",
    "credential.kek_rotated": "Data keys were re-wrapped under a new key-encryption key",
    # gateway and approvals
    "tool.called": "An agent called a tool",
    "tool.call_denied": "An agent's tool call was refused",
    "tool.call_completed": "A tool call the gateway made finished (outcome, upstream status, latency)",
    "gateway.request_refused": "The MCP gateway refused a revoked or expired token, or a former member",
    "gateway.tools_listed": "An agent listed the tools it may call in an environment",
    "approval.status_checked": "An agent checked the status of a held call",
    "tool.described": "An agent asked for the full schema of a tool it may call",
    "tool.searched": "An agent searched the tools it may call (search-first endpoint)",
    "approval.requested": "A tool call was queued for approval",
    "approval.decided": "A reviewer approved or rejected a request",
    "approval.decision_refused": "A reviewer's decision was refused (their own request, or not their step)",
    "approval.executed": "An approved call ran against the upstream API",
    "approval.expired": "A pending request expired",
    "approval.execution_refused": "An approved call was refused: its stored arguments no longer match their hash",
    "approval.webhook_updated": "The approval webhook settings changed",
    # audit log and refusals
    "audit.exported": "The audit log was exported (CSV/JSON download or a REST API read)",
    "access.refused": "A write was refused because the caller's role does not allow it",
    # reports
    "report.generated": "A security report was generated",
    "report.downloaded": "A security report was downloaded",
}
