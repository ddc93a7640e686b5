#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    from logs.audit import command_context

    # every change a command (or the shell) makes is audited as such
    with command_context(sys.argv):
        execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
