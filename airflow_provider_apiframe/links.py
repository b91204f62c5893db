"""The task instance page's link to what a task generated, and how each operator and sensor feeds it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_apiframe.utils.logs import Log
    from airflow_provider_apiframe.waiting.events import JobEvent, JobSucceeded

# The XCom a task pushes for its link: a URL, not the whole result (a batch's rows can be megabytes).
IMAGE_URL_XCOM = "image_url"


class ApiframeImageLink(BaseOperatorLink):
    """Opens the first image the task generated, on apiframe's CDN (kept there for 24 hours)."""

    name = "apiframe image"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        """Return the URL the task kept for its link, or nothing before it has one."""
        # Imported here: the XCom model is not needed to parse a DAG file, only to draw its page.
        from airflow.providers.common.compat.sdk import XCom

        url = XCom.get_value(ti_key=ti_key, key=IMAGE_URL_XCOM)
        return url if isinstance(url, str) else ""


class ApiframeOutputLink(ApiframeImageLink):
    """Opens the first video or audio file the task generated, on apiframe's CDN (kept there for 24 hours)."""

    name = "apiframe output"


def link_pending(context: Context) -> None:
    """
    Say quietly that the task has no link yet.

    Airflow 3 stores a task's links also when a try defers or fails, and asking for an XCom that does not
    exist logs an error line: one per deferral, and after every real error.
    """
    context["ti"].xcom_push(key=IMAGE_URL_XCOM, value="")


def remember_image(context: Context, images: Sequence[str]) -> None:
    """Keep the first image's URL for the task's link."""
    if images:
        context["ti"].xcom_push(key=IMAGE_URL_XCOM, value=images[0])


def finished(context: Context, event: JobEvent | None, log: Log) -> JobSucceeded:
    """Turn a wait's end into the success event (its first image kept for the link), or raise its error."""
    # Imported here: a DAG file that imports an operator needs the link's class, not the waiting machinery.
    from airflow_provider_apiframe.waiting.watch import succeeded

    done = succeeded(event)
    log.info("apiframe job %s completed with %d image(s)", done["job_id"], len(done["images"]))
    remember_image(context, done["images"])
    return done
