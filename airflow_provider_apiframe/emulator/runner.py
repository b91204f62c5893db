"""Running the emulator: an async helper for the CLI and a threaded server for tests and scripts."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from .config import EmulatorConfig
from .control import CONTROLS, Controls
from .server import build_app

_T = TypeVar("_T")
_STARTUP_TIMEOUT = 10.0


async def start_site(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, str]:
    """Serve ``app`` on host:port (0 picks a free port); returns the runner and the base URL."""
    # A short shutdown grace: clients parked on a 'delay' fault must not hold up teardown.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_port = runner.addresses[0][1]
    shown_host = f"[{host}]" if ":" in host else host
    return runner, f"http://{shown_host}:{bound_port}"


class EmulatorServer:
    """
    The emulator on its own thread and event loop; ready to take requests once started.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self, config: EmulatorConfig | None = None, **overrides: Any) -> None:
        self.config = replace(config or EmulatorConfig(), **overrides)
        self.api_key = self.config.api_keys[0]
        self.url = ""
        self._app = build_app(self.config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def controls(self) -> Controls:
        """The emulator's control operations; touch them from its loop only (see ``_on_loop``)."""
        return self._app[CONTROLS]

    def start(self) -> EmulatorServer:
        """Start serving on a thread of its own; return once the emulator takes requests."""
        if self._loop is not None:
            raise RuntimeError("the emulator is already running")
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="apiframe-emulator", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        try:
            self._runner, self.url = asyncio.run_coroutine_threadsafe(
                start_site(self._app, self.config.host, self.config.port), loop
            ).result(_STARTUP_TIMEOUT)
        except BaseException:
            self._stop_loop()
            raise
        return self

    def stop(self) -> None:
        """Stop serving and end the thread; a no-op when not running."""
        if self._loop is None:
            return
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result()
            self._runner = None
        self._stop_loop()

    def _stop_loop(self) -> None:
        if self._loop is None or self._thread is None:
            return  # never started, or already stopped
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        self._loop = self._thread = None

    def _on_loop(self, operation: Callable[[], _T]) -> _T:
        # The emulator's state is only ever touched from its own loop, so no locks are needed.
        if self._loop is None:
            return operation()

        async def run() -> _T:
            return operation()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result()

    def stats(self) -> dict[str, Any]:
        """Return the emulator's counters, as ``GET /_emulator/stats`` answers them."""
        return self._on_loop(self.controls.stats)

    def add_faults(self, *rules: Mapping[str, Any]) -> None:
        """Append scripted fault rules (see :class:`~.faults.FaultRule` for their keys)."""
        self._on_loop(lambda: self.controls.add_faults(rules))

    def reset(self) -> None:
        """Return to a freshly started emulator: no jobs, counters or rules, full balance, true time."""
        self._on_loop(self.controls.reset)

    def advance_clock(self, seconds: float) -> None:
        """Move the emulator's clock forward by ``seconds``, so jobs finish or expire without sleeping."""
        self._on_loop(lambda: self.controls.advance_clock(seconds))

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmulatorServer(url={self.url!r})"
