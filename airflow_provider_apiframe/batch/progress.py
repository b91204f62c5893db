"""What a batch's triggers log: how far the rows got, and each row's detail kept out of the way."""

from __future__ import annotations

import time
from typing import Any

from airflow_provider_apiframe.utils.logs import Log

# How often a running batch says how far it got, in seconds.
REPORT_EVERY = 30.0


class RowLog:
    """A watch's log for one row of many: its status changes are detail, its warnings still warnings."""

    def __init__(self, log: Log) -> None:
        self._log = log

    def debug(self, msg: Any, /, *args: Any, **kwargs: Any) -> None:
        """Log detail."""
        self._log.debug(msg, *args, **kwargs)

    info = debug

    def warning(self, msg: Any, /, *args: Any, **kwargs: Any) -> None:
        """Log a warning as one."""
        self._log.warning(msg, *args, **kwargs)


class Progress:
    """Says every ``REPORT_EVERY`` seconds how many of the batch's rows got through a step."""

    def __init__(self, log: Log, verb: str, total: int) -> None:
        self._log, self._verb, self._total = log, verb, total
        self._count = 0
        self._reported_at = time.monotonic()

    def one_more(self) -> None:
        """Count one more row through the step; say so if it is time."""
        self._count += 1
        now = time.monotonic()
        if self._count == self._total or now - self._reported_at >= REPORT_EVERY:
            self._reported_at = now
            self._log.info("%d of %d rows %s", self._count, self._total, self._verb)
