"""A real UDP StatsD socket for the tests that read the metrics Airflow's ``Stats`` sends."""

from __future__ import annotations

import re
import socket
import threading
from collections import Counter


class StatsdListener:
    """A UDP socket on loopback that keeps every StatsD line it receives."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.lines: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                packet = self.socket.recv(65536)
            except TimeoutError:
                continue
            self.lines.extend(packet.decode().splitlines())

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.socket.close()

    def counters(self) -> Counter[str]:
        """Each counter's total: ``name:3|c`` lines summed."""
        totals: Counter[str] = Counter()
        for line in self.lines:
            match = re.fullmatch(r"(.+):(-?\d+)\|c(\|@[\d.]+)?", line)
            if match:
                totals[match[1]] += int(match[2])
        return totals

    def apiframe_counters(self) -> Counter[str]:
        """The provider's counters, named without Airflow's prefix (``jobs.submitted.imagen-4``)."""
        return Counter(
            {
                name.split("apiframe.", 1)[1]: total
                for name, total in self.counters().items()
                if ".apiframe." in name
            }
        )

    def names(self, kind: str) -> set[str]:
        """Names of the metrics of one StatsD type (``ms`` timers, ``g`` gauges)."""
        return {line.split(":")[0] for line in self.lines if line.endswith(f"|{kind}")}
