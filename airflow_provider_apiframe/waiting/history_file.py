"""
Where what a process learned about a model's jobs outlives the process: one small JSON file per model.

A worker's blocking wait is a fresh process for every task, and a triggerer restarts with every deploy;
without these files each would start knowing nothing of the model's durations and progress. They live
in ``APIFRAME_HISTORY_DIR`` (default ``$AIRFLOW_HOME/apiframe/history``; set it empty to keep nothing).
A file holds durations and shares of life only: no key, prompt or job id. Each write replaces the file
whole (written aside, then renamed), so processes sharing the folder never read half a file; the last
writer wins, which loses at most what another process learned since it last wrote.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any

HISTORY_DIR_ENV = "APIFRAME_HISTORY_DIR"
# Model names kept as they are in file names: short, plain, and not hidden files.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# Of any other name, this many characters stay readable before the digest that tells it apart.
PREFIX_KEPT = 40
DIGEST_CHARS = 16

log = logging.getLogger(__name__)


def history_dir() -> Path | None:
    """Return the folder of the history files, or None where keeping them is turned off."""
    configured = os.environ.get(HISTORY_DIR_ENV)
    if configured is not None:
        return Path(configured).expanduser() if configured.strip() else None
    airflow_home = os.environ.get("AIRFLOW_HOME") or "~/airflow"
    return Path(airflow_home).expanduser() / "apiframe" / "history"


def path_for(model: str) -> Path | None:
    """Return the path of ``model``'s history file, or None where keeping them is turned off."""
    folder = history_dir()
    return None if folder is None else folder / file_name(model)


def file_name(model: str) -> str:
    """
    Return ``model``'s file name: the name itself where it is short and plain, else a prefix and a digest.

    Any other name keeps its first characters, made plain, and a digest of all of it, so that names too
    long for the file system, or that differ only in characters a file name cannot hold, each get a file
    of their own.
    """
    if _PLAIN_NAME.fullmatch(model):
        return f"{model}.json"
    prefix = re.sub(r"[^A-Za-z0-9._-]", "_", model[:PREFIX_KEPT]).lstrip(".")
    # surrogatepass: a JSON string may hold a lone surrogate, which strict UTF-8 refuses to encode.
    digest = hashlib.sha256(model.encode("utf-8", "surrogatepass")).hexdigest()[:DIGEST_CHARS]
    return f"{prefix}-{digest}.json"


def load(model: str) -> dict[str, Any] | None:
    """Read what an earlier process wrote for ``model``; None if nothing (or nothing readable) is there."""
    path = path_for(model)
    if path is None:
        return None
    try:
        snapshot = json.loads(path.read_text())
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError, RecursionError) as error:
        log.warning("Ignoring the learned job history in %s: %s", path, error)
        return None
    return snapshot if isinstance(snapshot, dict) else None


def save(model: str, snapshot: dict[str, Any]) -> None:
    """Replace ``model``'s file; a folder that cannot be written costs the learning, never the wait."""
    path = path_for(model)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, aside = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    except OSError as error:
        log.warning("Could not keep the learned job history in %s: %s", path.parent, error)
        return
    try:
        with os.fdopen(handle, "w") as file:
            json.dump(snapshot, file, separators=(",", ":"))
        os.replace(aside, path)
    except OSError as error:
        log.warning("Could not keep the learned job history in %s: %s", path, error)
        Path(aside).unlink(missing_ok=True)
