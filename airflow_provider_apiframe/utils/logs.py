"""What the provider needs of a logger, whichever kind Airflow hands a hook, a trigger or a task."""

from __future__ import annotations

from typing import Any, Protocol


class Log(Protocol):
    """The part of a logger the provider uses: Airflow hands hooks and triggers loggers of several types."""

    def debug(self, msg: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Log ``msg`` (%-formatted with ``args``) at debug level."""

    def info(self, msg: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Log ``msg`` (%-formatted with ``args``) at info level."""

    def warning(self, msg: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Log ``msg`` (%-formatted with ``args``) at warning level."""
