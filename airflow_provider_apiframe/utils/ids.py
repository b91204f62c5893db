"""Identifiers the API hands out (job ids), checked as a whole before they name a request or a file."""

from __future__ import annotations

import re

_UUID = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def is_uuid(value: object) -> bool:
    """Whether ``value`` is a UUID string, all of it."""
    # fullmatch: `$` would also match before a trailing newline, which a file name would then hold.
    return isinstance(value, str) and bool(_UUID.fullmatch(value))
