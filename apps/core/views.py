"""Helpers shared by HTML views."""

from django.contrib import messages

from .errors import DomainError


def form_error(request, form, exc: DomainError) -> None:
    """Show a service's refusal next to the field it names, or as a page message."""
    if exc.field and form is not None and exc.field in form.fields:
        form.add_error(exc.field, exc.message)
    else:
        messages.error(request, exc.message)
