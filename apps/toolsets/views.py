def project_panel(request, access, project) -> dict:
    return {}
