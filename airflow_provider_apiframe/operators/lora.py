"""
Operators that train a Flux LoRA on your own images, and archive it when a later task is done with it.

DAG files import this module on every parse, so it imports neither ``requests``, ``aiohttp`` nor the http
provider: the hook and the trigger are imported where a task runs.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator, ResumableJobMixin

from airflow_provider_apiframe.exceptions import (
    ApiframeError,
    ApiframeJobFailedError,
    ApiframeJobTimeoutError,
    ApiframeTransientError,
    ApiframeValidationError,
)
from airflow_provider_apiframe.operators.arguments import (
    DEFER_TIMEOUT_GRACE,
    errors_named_for,
    is_literal,
    positive_seconds,
)
from airflow_provider_apiframe.operators.job import ApiframeHookMixin

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_apiframe.waiting.events import LoraEnded
    from airflow_provider_apiframe.wire.loras import Lora

NAME_MAX = 60
# What a training costs: charged when it is created, refunded when it fails (API.md).
TRAINING_CREDITS = 2
# The digest that makes the LoRA's name the task instance's own: a retry finds the LoRA by it.
DIGEST_LENGTH = 8
SUBJECT_KINDS = ("person", "style", "object")
GENDERS = ("female", "male", "non-binary")
# The XComs a LoRA is pushed under besides the return value: ``train.output["id"]`` pulls one.
RESULT_KEYS = ("id", "name", "triggerWord", "status")


def training_fields(
    *,
    name: Any,
    subject_kind: Any,
    gender: Any,
    ethnicity: Any,
    age: Any,
    steps: Any,
    lora_rank: Any,
    only_literals: bool = False,
) -> dict[str, str]:
    """
    Check a training's fields as the API would and return them as the form sends them.

    Every bad field is named in one ``ApiframeValidationError``; with ``only_literals`` a templated
    value is left for the task to check once rendered.
    """
    problems: dict[str, list[str]] = {}
    given = {"name": name, "subject_kind": subject_kind, "gender": gender, "ethnicity": ethnicity, "age": age}
    given |= {"steps": steps, "lora_rank": lora_rank}
    known = {key: value for key, value in given.items() if not only_literals or is_literal(value)}

    def text(key: str, most: int) -> None:
        value = known.get(key)
        if key in known and value is not None and (not isinstance(value, str) or not 1 <= len(value) <= most):
            problems[key] = [f"must be text of 1 to {most} characters, got {value!r:.80}"]

    def number(key: str, low: int, high: int) -> None:
        value = known.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high
        ):
            problems[key] = [f"must be an integer from {low} to {high}, got {value!r:.80}"]

    text("name", NAME_MAX - DIGEST_LENGTH - 1)
    if "name" in known and known["name"] is None:
        problems["name"] = ["is required"]
    if "subject_kind" in known and known["subject_kind"] not in SUBJECT_KINDS:
        problems["subject_kind"] = [
            f"must be one of {', '.join(SUBJECT_KINDS)}, got {known['subject_kind']!r:.80}"
        ]
    if "gender" in known and known["gender"] is not None and known["gender"] not in GENDERS:
        problems["gender"] = [f"must be one of {', '.join(GENDERS)}, got {known['gender']!r:.80}"]
    text("ethnicity", 40)
    text("age", 40)
    number("steps", 500, 3000)
    number("lora_rank", 8, 64)
    if known.get("subject_kind") == "person":
        for key in ("gender", "ethnicity"):
            if key in known and known[key] is None:
                problems.setdefault(key, []).append(
                    "is required to train on a person (subject_kind='person')"
                )
    if problems:
        raise ApiframeValidationError("Invalid training", details=problems)
    names = {"subject_kind": "subjectKind", "lora_rank": "loraRank"}
    return {names.get(key, key): str(value) for key, value in given.items() if value is not None}


class ApiframeLoraTrainOperator(ResumableJobMixin, ApiframeHookMixin, BaseOperator):
    """
    Train a Flux LoRA on 15 to 30 images and return it: ``{"id", "name", "triggerWord", "status"}``.

    ``images`` is a data set this provider stored (its folder, or its ``metadata.jsonl``; ``images_where``
    keeps the rows whose manifest columns have the given values, e.g. ``{"id": ["a", "b"]}``), or a list
    of local paths, ``ObjectStoragePath``s, storage URIs and http(s) URLs (an upstream task's output
    among them). Every rule is checked before anything is sent: 15 to 30 images, JPEG, PNG or WebP by
    their bytes, at most 10 MB each and 100 MB in all, and the fields' own rules; the images are streamed
    to the API from disk, never held in memory.

    The API takes no idempotency key for a training, so the LoRA is named after the task instance: the
    given ``name`` and a short digest of the dag, run, task and map index. A retried try looks for a live
    LoRA of that name (``GET /v2/loras``) and waits for it instead of training again; on Airflow 3.3+ its
    id is also kept in the task state store as soon as it exists. A LoRA that ended FAILED is trained
    again by the next try (the API refunds a failed training's credits).

    The task defers while the LoRA trains (minutes to an hour) and fails with the API's reason if it ends
    FAILED. Its return value is the LoRA; each of its fields is also an XCom of its own, so that
    ``train.output["id"]`` is a ``flux-lora`` generation's ``loraId`` with no glue code, and
    ``{{ ti.xcom_pull(task_ids='train', key='triggerWord') }}`` its trigger word in a prompt.

    :param images: The training images. Templated.
    :param name: The LoRA's name, 1 to 51 characters (the digest takes the rest of the API's 60). Templated.
    :param subject_kind: ``person`` (default), ``style`` or ``object``. Templated.
    :param gender: ``female``, ``male`` or ``non-binary``; required for a person. Templated.
    :param ethnicity: Required for a person, 1 to 40 characters. Templated.
    :param age: Optional, 1 to 40 characters. Templated.
    :param steps: Training steps, 500 to 3000 (the API's default if None). Templated.
    :param lora_rank: 8 to 64 (the API's default if None). Templated.
    :param images_where: Keeps a data set's rows by their manifest columns. Templated.
    :param images_conn_id: The connection with the images' storage credentials, if they need one.
    :param apiframe_conn_id: The Airflow connection holding the API key.
    :param deferrable: Wait on the triggerer (default) rather than in the worker.
    :param poll_interval: Seconds between two reads of the training's status (default 30).
    :param timeout: Seconds (or a timedelta) the training may take before the task fails (default 2 h).
    """

    template_fields: Sequence[str] = (
        "images",
        "name",
        "subject_kind",
        "gender",
        "ethnicity",
        "age",
        "steps",
        "lora_rank",
        "images_where",
    )
    ui_color = "#fdf8e8"
    # Renaming this breaks the reconnection of tries already under way: their id is stored under it.
    external_id_key = "apiframe_lora_id"

    def __init__(
        self,
        *,
        images: Any,
        name: str,
        subject_kind: str = "person",
        gender: str | None = None,
        ethnicity: str | None = None,
        age: str | None = None,
        steps: int | None = None,
        lora_rank: int | None = None,
        images_where: Mapping[str, Any] | None = None,
        images_conn_id: str | None = None,
        apiframe_conn_id: str = "apiframe_default",
        deferrable: bool = True,
        poll_interval: float = 30.0,
        timeout: float | timedelta = 7200.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.images = images
        self.name = name
        self.subject_kind = subject_kind
        self.gender = gender
        self.ethnicity = ethnicity
        self.age = age
        self.steps = steps
        self.lora_rank = lora_rank
        self.images_where = images_where
        self.images_conn_id = images_conn_id
        self.apiframe_conn_id = apiframe_conn_id
        self.deferrable = deferrable
        self.poll_interval = positive_seconds(self.task_id, "poll_interval", poll_interval)
        self.timeout = positive_seconds(self.task_id, "timeout", timeout)
        # The LoRA an earlier try made, when this try found it by its name.
        self._found: Lora | None = None
        with errors_named_for(self.task_id):
            self._fields(only_literals=True)

    def _fields(self, *, only_literals: bool = False) -> dict[str, str]:
        return training_fields(
            name=self.name,
            subject_kind=self.subject_kind,
            gender=self.gender,
            ethnicity=self.ethnicity,
            age=self.age,
            steps=self.steps,
            lora_rank=self.lora_rank,
            only_literals=only_literals,
        )

    def lora_name(self, context: Context) -> str:
        """Return the LoRA's name: the given one and a digest of the task instance, which a retry shares."""
        ti = context["ti"]
        map_index = ti.map_index if ti.map_index is not None else -1
        identity = f"{ti.dag_id}|{ti.run_id}|{ti.task_id}|{map_index}"
        return f"{self.name} {hashlib.sha256(identity.encode()).hexdigest()[:DIGEST_LENGTH]}"

    def execute(self, context: Context) -> dict[str, Any]:
        """Check the fields, then train (or find this task instance's LoRA) and wait for it."""
        with errors_named_for(self.task_id):
            self._fields()
        return self.execute_resumable(context)  # type: ignore[no-any-return]

    def submit_job(self, context: Context) -> str:
        """Return this task instance's live LoRA, or train one: its images checked and streamed."""
        from airflow_provider_apiframe.storage.training_images import gather_images
        from airflow_provider_apiframe.wire.loras import LoraStatus, TrainingRequest

        name = self.lora_name(context)
        known = self.hook.find_lora(name)
        if known is not None and known.status is not LoraStatus.FAILED:
            self.log.info("LoRA %s (%s) exists already, %s", known.id, name, known.status.value)
            self._found = known
            return known.id
        fields = {**self._fields(), "name": name}
        self.enter_credits(context, "LoRA training", {name: TRAINING_CREDITS})
        with tempfile.TemporaryDirectory(prefix="apiframe-lora-") as downloads:
            with errors_named_for(self.task_id):
                files = gather_images(
                    self.images, downloads, conn_id=self.images_conn_id, where=self.images_where, log=self.log
                )
            training = TrainingRequest([file.to_upload() for file in files], fields)
            try:
                lora_id = self.hook.create_lora(training)
            except ApiframeTransientError:
                # The answer may be lost after the API created the LoRA: it would be found by its name.
                found = self.hook.find_lora(name)
                if found is None or found.status is LoraStatus.FAILED:
                    raise
                lora_id = found.id
        self.log.info("LoRA %s (%s) is training on %d images", lora_id, name, len(files))
        return lora_id

    def get_job_status(self, external_id: Any, context: Context) -> str:
        """Read the LoRA's status."""
        return self.hook.get_lora(str(external_id)).status.value

    def is_job_active(self, status: str) -> bool:
        """Say whether a LoRA in ``status`` is still training."""
        from airflow_provider_apiframe.wire.loras import LoraStatus

        return LoraStatus(status).is_training

    def is_job_succeeded(self, status: str) -> bool:
        """Say whether a LoRA in ``status`` is ready."""
        return status == "READY"

    # The mixin returns this method's value as the task's result when it reconnects to a training.
    def poll_until_complete(self, external_id: Any, context: Context) -> dict[str, Any]:  # type: ignore[override]
        """Defer to the trigger (default), or wait here; return the LoRA when waiting here."""
        from airflow_provider_apiframe.triggers.lora import ApiframeLoraTrigger, lora_ended, lora_error

        lora_id = str(external_id)
        deadline = time.time() + self.timeout
        context["ti"].xcom_push(key="lora_id", value=lora_id)
        found = self._found
        if found is not None and found.id == lora_id and not found.status.is_training:
            # An earlier try's LoRA that has ended: no trigger to wait on (and none to race the retry).
            return self.execute_complete(context, lora_ended(found))
        if self.deferrable:
            self.defer(
                trigger=ApiframeLoraTrigger(
                    lora_id=lora_id,
                    apiframe_conn_id=self.apiframe_conn_id,
                    poll_interval=self.poll_interval,
                    deadline=deadline,
                ),
                method_name="execute_complete",
                timeout=timedelta(seconds=self.timeout + DEFER_TIMEOUT_GRACE),
            )
        while True:
            lora = self.hook.get_lora(lora_id)
            if not lora.status.is_training:
                return self.execute_complete(context, lora_ended(lora))
            if time.time() >= deadline:
                return self.execute_complete(
                    context, lora_error(lora_id, "timeout", "still training at the deadline")
                )
            time.sleep(min(self.poll_interval, max(0.0, deadline - time.time())))

    def get_job_result(self, external_id: Any, context: Context) -> dict[str, Any]:
        """Return the READY LoRA an earlier try left."""
        from airflow_provider_apiframe.triggers.lora import lora_ended

        return self.execute_complete(context, lora_ended(self.hook.get_lora(str(external_id))))

    def execute_complete(self, context: Context, event: LoraEnded | None = None) -> dict[str, Any]:
        """Turn the training's end into the LoRA (each field an XCom too), or its typed error."""
        if not isinstance(event, dict) or event.get("status") not in ("success", "error"):
            raise ApiframeError(f"The trigger sent an event this operator cannot read: {event!r:.200}")
        lora_id, message = str(event.get("lora_id", "")), str(event.get("message", ""))
        if event["status"] == "error":
            if event.get("reason") == "timeout":
                raise ApiframeJobTimeoutError(message, job_id=lora_id)
            if event.get("reason") in ("failed", "archived"):
                if event.get("reason") == "failed":
                    self.settle_credits(context, {self.lora_name(context): None})  # refunded
                raise ApiframeJobFailedError(message, job_id=lora_id, status=str(event["reason"]).upper())
            raise ApiframeError(message)
        lora = dict(event.get("lora") or {})
        for key in RESULT_KEYS:
            context["ti"].xcom_push(key=key, value=lora.get(key))
        self.settle_credits(context, {self.lora_name(context): TRAINING_CREDITS})
        self.log.info("LoRA %s is ready; its trigger word is %r", lora.get("id"), lora.get("triggerWord"))
        return lora


class ApiframeLoraArchiveOperator(ApiframeHookMixin, BaseOperator):
    """
    Archive a LoRA (``DELETE /v2/loras/{id}``) once the tasks that use it are done.

    Make it the training's teardown (``generate >> archive.as_teardown(setups=train)``) to archive even
    when a generation failed: a teardown does not decide the run's state, so the failure still fails the
    run (a ``trigger_rule="all_done"`` leaf would make it succeed). Archiving an archived LoRA is no
    error.

    :param lora_id: The LoRA, e.g. ``train.output["id"]``. Templated.
    :param apiframe_conn_id: The Airflow connection holding the API key.
    """

    template_fields: Sequence[str] = ("lora_id",)
    ui_color = "#fdf8e8"

    def __init__(self, *, lora_id: str, apiframe_conn_id: str = "apiframe_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lora_id = lora_id
        self.apiframe_conn_id = apiframe_conn_id

    def execute(self, context: Context) -> None:
        """Archive the LoRA."""
        self.hook.archive_lora(str(self.lora_id))
        self.log.info("LoRA %s archived", self.lora_id)
