#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    # `scan` is the offline CI gate: it must start in a bare shell (no SECRET_KEY, no database),
    # so it gets its own minimal settings unless DJANGO_SETTINGS_MODULE says otherwise.
    is_scan = sys.argv[1:2] == ["scan"] or sys.argv[1:3] == ["help", "scan"]
    default = "mcpforge.settings_scan" if is_scan else "mcpforge.settings"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", default)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
