"""The apiframe hook: the Airflow connection, and the sync and async clients built from it."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from airflow.providers.common.compat.sdk import AirflowNotFoundException
from airflow.providers.http.hooks.http import HttpHook

from airflow_provider_apiframe.catalogue.operations import IMAGE_GENERATION, JobRequest, Operation
from airflow_provider_apiframe.connection_form import (
    DEFAULT_API_URL,
    UI_FIELD_BEHAVIOUR,
    connection_form_widgets,
)
from airflow_provider_apiframe.exceptions import (
    ApiframeAuthError,
    ApiframeConfigurationError,
    ApiframeError,
    ApiframeInsufficientCreditsError,
    ApiframeJobFailedError,
    ApiframeNotFoundError,
    ApiframeUnexpectedResponseError,
    ApiframeValidationError,
)
from airflow_provider_apiframe.utils import metrics
from airflow_provider_apiframe.waiting.durations import MIN_SAMPLES, history_for
from airflow_provider_apiframe.waiting.events import JobEvent
from airflow_provider_apiframe.waiting.pages import DurationLearner, page_request, parse_page
from airflow_provider_apiframe.waiting.watch import JobWatch
from airflow_provider_apiframe.wire.api_url import INSECURE_HTTP_KEY, api_base_url
from airflow_provider_apiframe.wire.idempotency import KeyChain, one_off_key
from airflow_provider_apiframe.wire.jobs import Job, JobStatus, SubmittedJob, parse_job, parse_submitted
from airflow_provider_apiframe.wire.loras import (
    LORAS_PATH,
    MAX_PAGES,
    PAGE_LIMIT,
    Lora,
    TrainingRequest,
    created_id,
    lora_request,
    parse_lora,
    parse_lora_page,
)
from airflow_provider_apiframe.wire.multipart import FileToUpload
from airflow_provider_apiframe.wire.transport import (
    ApiRequest,
    AsyncTransport,
    ClientSettings,
    SyncTransport,
    job_request,
)
from airflow_provider_apiframe.wire.uploads import UPLOAD_PATH, UPLOADS, Upload, parse_upload, upload_form

if TYPE_CHECKING:
    import requests
    from airflow.providers.common.compat.sdk import Connection

    from airflow_provider_apiframe.spending.ledger import Spender
    from airflow_provider_apiframe.spending.prices import ListedPrice

# Each link is a FAILED or CANCELLED job replayed for free; a chain this long means something is wrong.
MAX_RESUBMISSIONS = 25
# Test Connection answers within 15 s whatever the host does: a second try only if the first failed fast.
TEST_TIMEOUT = 5.0
TEST_RETRY_WINDOW = 4.0


class ApiframeHook(HttpHook):
    """
    Talk to the apiframe API with the key of an Airflow connection.

    The connection's password is the API key (``afk_...``); its host defaults to
    ``https://api.apiframe.ai``, and a host without a scheme is reached over HTTPS (plain HTTP only on
    this machine, or with ``allow_insecure_http: true`` in the extra). Extra may hold ``timeout``
    (seconds per request, default 60) and ``retry_timeout`` (how long a request rides out transient
    failures, default 300 s), ``max_retries`` (an optional cap on resends), ``rate_limit_per_minute``
    (default 500), ``rate_limit_redis_conn_id`` (the UI offers these as fields; empty or null means the
    default) besides the http provider's own options (``verify``, ``proxies``...).

    :param apiframe_conn_id: The Airflow connection to use.
    """

    conn_name_attr = "apiframe_conn_id"
    default_conn_name = "apiframe_default"
    conn_type = "apiframe"
    hook_name = "apiframe"
    default_host = DEFAULT_API_URL

    def __init__(self, apiframe_conn_id: str = default_conn_name) -> None:
        super().__init__(method="GET", http_conn_id=apiframe_conn_id)
        self.apiframe_conn_id = apiframe_conn_id
        # GET /v2/models's prices by modality, read once per hook.
        self._listings: dict[str, Mapping[str, ListedPrice]] = {}

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Airflow 2's form: port, schema and login hidden (Airflow 3 reads the provider info's copy)."""
        return dict(UI_FIELD_BEHAVIOUR)

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Airflow 2's form: the client settings as fields (Airflow 3 reads the provider info's copy)."""
        return connection_form_widgets()

    @cached_property
    def connection(self) -> Connection:
        """Return the Airflow connection; a missing one is a configuration error naming it."""
        with self._existing_connection():
            return self.get_connection(self.apiframe_conn_id)

    @contextmanager
    def _existing_connection(self) -> Iterator[None]:
        # A permanent error: a misspelled connection id is not worth Airflow's retries.
        try:
            yield
        except AirflowNotFoundException:
            raise ApiframeConfigurationError(
                f"The Airflow connection {self.apiframe_conn_id!r} does not exist: create it (type "
                "apiframe, the API key as its password), or set apiframe_conn_id to one that exists."
            ) from None

    def get_conn(
        self, headers: dict[Any, Any] | None = None, extra_options: dict[str, Any] | None = None
    ) -> requests.Session:
        """Return the http provider's session (base URL, proxies, TLS, keep-alive), minus our settings."""
        session = super().get_conn(headers, extra_options)
        for name in (*ClientSettings.EXTRA_KEYS, INSECURE_HTTP_KEY):
            session.headers.pop(name, None)
        return session

    def _extract_auth(self, connection: Connection) -> None:
        # The key travels in the X-API-Key header that the transport sets; no session-level auth.
        return None

    def _settings(self, connection: Connection, extra: Mapping[str, Any]) -> ClientSettings:
        conn_id = self.apiframe_conn_id
        base_url = api_base_url(conn_id, connection.host, connection.schema, connection.port, extra)
        # A key pasted with a newline or a space around it: the header must hold the key alone.
        key = (connection.password or "").strip()
        if not key:
            raise ApiframeConfigurationError(
                f"The Airflow connection {conn_id!r} has no API key: put the key (afk_...) "
                "in its Password field, or in the URI as apiframe://:KEY@HOST."
            )
        if not (key.isascii() and key.isprintable()):
            raise ApiframeConfigurationError(
                f"The API key of the Airflow connection {conn_id!r} holds a control character or a "
                "non-ASCII letter, which no HTTP header can carry: paste the key again."
            )
        return ClientSettings.from_connection_extra(base_url, key, extra, conn_id)

    @cached_property
    def transport(self) -> SyncTransport:
        """Return the sync transport: the connection's settings over the http provider's session."""
        return SyncTransport(self._settings(self.connection, self.connection.extra_dejson), self.get_conn())

    async def async_settings(self) -> ClientSettings:
        """Read the client settings of the connection without blocking the event loop."""
        from airflow.providers.common.compat.connection import get_async_connection, get_async_extra_dejson

        with self._existing_connection():
            connection = await get_async_connection(self.apiframe_conn_id, hook=self)
        return self._settings(connection, await get_async_extra_dejson(connection))

    @asynccontextmanager
    async def async_client(self) -> AsyncIterator[AsyncApiframeClient]:
        """One aiohttp session for every request made inside the block."""
        transport = AsyncTransport(await self.async_settings())
        try:
            yield AsyncApiframeClient(transport)
        finally:
            await transport.close()

    def submit_generation(
        self,
        model: str,
        prompt: str,
        params: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> str:
        """
        Submit one image generation and return its job id.

        The body is checked against the model's description before anything is sent. With an
        ``idempotency_key`` a repeated call returns the job the first one created; a job under that key
        that ended FAILED or CANCELLED is followed by a new submit under the successor key.
        """
        request = JobRequest(model=model, options=params or {}, prompt=prompt)
        return self.submit_job(IMAGE_GENERATION, request, idempotency_key=idempotency_key)

    def submit_job(
        self,
        operation: Operation,
        request: JobRequest,
        *,
        idempotency_key: str | None = None,
        spender: Spender | None = None,
        credit_entry: str | None = None,
    ) -> str:
        """
        Submit one job of any operation and return its job id, as ``submit_generation`` does for images.

        Without an ``idempotency_key`` a one-off key still makes a resent POST safe. Under the
        connection's ``credit_limit`` the job is entered in the limit's ledger first, under
        ``credit_entry`` (default: the idempotency key) by ``spender`` (default: the task running this
        code), and refused with ``ApiframeSpendLimitError`` past it.
        """
        body = operation.request_body(request)
        chain = KeyChain(idempotency_key or one_off_key(), MAX_RESUBMISSIONS)
        if self.settings.credit_limit is not None:
            from airflow_provider_apiframe.spending.ledger import Spender
            from airflow_provider_apiframe.spending.limits import enter_jobs

            try:
                price = self.job_prices(operation, [request])[0]
            except ApiframeError as error:
                # An unknown price is entered at 0: let through while the limit is not yet reached.
                self.log.warning("The price list cannot be read: %s", error)
                price = None
            spender = spender or Spender.current()
            enter_jobs(self.settings, spender, str(request.model), {credit_entry or chain.key: price})
        while True:
            key = chain.key
            accepted = self.submit(body, key, path=operation.path)
            if not chain.follow(accepted):
                break
            self.log.info(
                "Idempotency key %s already belongs to job %s, which ended %s; submitting a new job.",
                key,
                accepted.job_id,
                accepted.status.value,
            )
        if accepted.status.is_unsuccessful:
            raise ApiframeJobFailedError(
                f"The last {MAX_RESUBMISSIONS} jobs of this task all failed; giving up.",
                job_id=accepted.job_id,
                status=accepted.status.value,
            )
        return accepted.job_id

    def submit(
        self, body: Mapping[str, Any], idempotency_key: str, *, path: str = IMAGE_GENERATION.path
    ) -> SubmittedJob:
        """Send one submit as it is (no check, no resubmission) and read the API's 202 answer."""
        return counted(
            body, parse_submitted(self.transport.send(submit_request(path, body, idempotency_key)))
        )

    def upload(self, file: FileToUpload, sha256: str | None = None) -> Upload:
        """
        Upload a file with ``POST /v2/uploads`` (streamed, never read whole) and return its URL and expiry.

        With the file's ``sha256``, an earlier upload of the same bytes to this API is reused while its URL
        has time to live, so a thousand rows that name one file send it once.
        """
        base_url = self.settings.base_url
        if sha256 is not None and (known := UPLOADS.reusable(base_url, sha256, time.time())) is not None:
            return known
        request = ApiRequest("POST", UPLOAD_PATH, form=upload_form(file), free_to_resend=True)
        upload = parse_upload(self.transport.send(request))
        if sha256 is not None:
            UPLOADS.remember(base_url, sha256, upload, time.time())
        self.log.info("Uploaded %d bytes (%s): %s", file.size, file.content_type, upload.url)
        return upload

    def create_lora(self, training: TrainingRequest) -> str:
        """
        Start a LoRA's training (``POST /v2/loras``, its images streamed) and return the LoRA's id.

        The API takes no idempotency key here: the request is never resent after a 5xx or a dropped
        connection (only after a 429, which the API answers before doing anything), so that it cannot
        train, and charge, twice. A caller that lost the answer looks the LoRA up by its name.
        """
        return created_id(self.transport.send(ApiRequest("POST", LORAS_PATH, form=training.form())))

    def find_lora(self, name: str) -> Lora | None:
        """Return the newest live LoRA of the team with this exact name, from ``GET /v2/loras`` pages."""
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            query = urlencode({"limit": PAGE_LIMIT, **({"cursor": cursor} if cursor else {})})
            loras, cursor = parse_lora_page(self.transport.send(ApiRequest("GET", f"{LORAS_PATH}?{query}")))
            found = next((lora for lora in loras if lora.name == name), None)
            if found is not None or cursor is None:
                return found
        return None

    def get_lora(self, lora_id: str) -> Lora:
        """Read ``GET /v2/loras/{id}`` into a ``Lora``."""
        return parse_lora(self.transport.send(lora_request(lora_id)))

    def archive_lora(self, lora_id: str) -> None:
        """Archive a LoRA (``DELETE /v2/loras/{id}``); archiving an archived one is no error."""
        # The spec makes the DELETE idempotent: resending it after a lost answer is harmless.
        self.transport.send(lora_request(lora_id, "DELETE"))

    def get_job(self, job_id: str) -> Job:
        """``GET /v2/jobs/{id}``, read into a ``Job``."""
        return parse_job(self.get_job_answer(job_id))

    def get_job_answer(self, job_id: str) -> dict[str, Any]:
        """``GET /v2/jobs/{id}`` as the API answered it: with the request the job stored (``input``)."""
        answer = self.transport.send(job_request(job_id))
        if not isinstance(answer, dict):
            raise ApiframeUnexpectedResponseError(
                f"GET /v2/jobs/{job_id} answered with {type(answer).__name__}, not a job"
            )
        return answer

    @property
    def settings(self) -> ClientSettings:
        """The connection's client settings: the API's base URL, the request budget, the retry window."""
        return self.transport.settings

    def get_account(self, transport: SyncTransport | None = None) -> dict[str, Any]:
        """``GET /v2/me``: the user, the team (with its credit balance) and the key. Spends nothing."""
        answer = (transport or self.transport).send(ApiRequest("GET", "/v2/me"))
        if not isinstance(answer, dict):
            raise ApiframeError(f"/v2/me answered with {type(answer).__name__}, not an object")
        return answer

    def ensure_credits(
        self, model: str, images: int, operation: Operation = IMAGE_GENERATION, *, cost: int | None = None
    ) -> int:
        """
        Check with ``GET /v2/me`` that the team can pay for ``images`` jobs, before the first submit.

        ``cost`` is what they cost together at most (default: ``images`` times a job's price with the
        model's default options). Returns the balance. Raises ``ApiframeInsufficientCreditsError`` with
        both numbers when it falls short, so a batch fails whole and at once instead of after paying for
        part of it.
        """
        if cost is None:
            cost = self.credit_price(model, operation) * images
        team = self.get_account().get("team")
        balance = team.get("credits") if isinstance(team, dict) else None
        if not isinstance(balance, int):
            raise ApiframeUnexpectedResponseError(f"/v2/me did not report the team's credits: {team!r}")
        if balance < cost:
            raise ApiframeInsufficientCreditsError(
                f"Not enough credits for {images} {model} image(s)",
                credits_required=cost,
                credits_available=balance,
                jobs=images,
            )
        return balance

    def credit_price(self, model: str, operation: Operation = IMAGE_GENERATION) -> int:
        """Return the most one job of ``model`` with its default options costs; an error if unknown."""
        price = self.job_prices(operation, [JobRequest(model, {})])[0]
        if price is None:
            raise ApiframeUnexpectedResponseError(f"/v2/models does not give the price of {model}")
        return price

    def job_prices(self, operation: Operation, requests: Sequence[JobRequest]) -> list[int | None]:
        """
        Return the most each job can cost (None where no price is known), read with its own options.

        The catalogue's published price wins; else ``GET /v2/models``'s, read as :mod:`.spending.prices`
        says (a count option multiplies a per-output price, a duration a per-second one). The listing is
        public, asked without the key, and asked once per hook and modality.
        """
        from airflow_provider_apiframe.spending.prices import job_price

        models = [operation.model(request.model) for request in requests]
        listed = {} if all(model.credit_cost is not None for model in models) else self._listed(operation)
        return [
            job_price(model, listed.get(model.id), request.options)
            for model, request in zip(models, requests, strict=True)
        ]

    def _listed(self, operation: Operation) -> Mapping[str, ListedPrice]:
        if operation.modality not in self._listings:
            from airflow_provider_apiframe.spending.prices import ListedPrice

            query = urlencode({"modality": operation.modality})
            answer = self.transport.send(ApiRequest("GET", f"/v2/models?{query}", authenticated=False))
            entries = answer.get("models") if isinstance(answer, dict) else None
            prices: dict[str, ListedPrice] = {}
            for entry in entries if isinstance(entries, list) else []:
                price = ListedPrice.parse(entry)
                if price is not None and isinstance(entry.get("id"), str):
                    prices.setdefault(entry["id"], price)
            self._listings[operation.modality] = prices
        return self._listings[operation.modality]

    def download_images(
        self,
        urls: Sequence[str],
        directory: str | os.PathLike[str],
        *,
        max_bytes: int | None = None,
    ) -> list[str]:
        """
        Copy images from apiframe's CDN into the local ``directory``; return the paths written, in order.

        The CDN purges files after 24 hours by default, so a pipeline that needs the pixels keeps its own
        copy. Each file is named by its job and index (``<job id>-<n>``, as the CDN names it; a URL not
        named so gets a hash of the URL) with the extension its bytes show, and only a PNG, JPEG or WEBP
        image is kept. Downloads go through the storage module's client: http(s) only, streamed, at
        most ``max_bytes`` each (default 100 MiB), never with the key.
        """
        from airflow_provider_apiframe.storage.image_store import MAX_IMAGE_BYTES, download_images

        return download_images(urls, directory, max_bytes=max_bytes or MAX_IMAGE_BYTES, log=self.log)

    def wait_for_job(
        self,
        job_id: str,
        *,
        poll_interval: float,
        deadline: float,
        submitted_at: float,
        model: str | None = None,
    ) -> JobEvent:
        """Block until the job ends or ``deadline`` (epoch seconds) passes; return the trigger's event."""
        watch = JobWatch(
            job_id,
            poll_interval=poll_interval,
            deadline=deadline,
            submitted_at=submitted_at,
            log=self.log,
            model=model,
        )
        learner, paged = DurationLearner(), True
        step: JobEvent | float = watch.first_delay(time.time())
        while not isinstance(step, dict):
            time.sleep(step)
            outcome: Job | ApiframeError | None = None
            try:
                if paged and model and history_for(model).known_durations < MIN_SAMPLES:
                    outcome = self._from_page(job_id, model, learner)
                    paged = outcome is not None  # not on the newest page: asked for by id from now on
                outcome = outcome or self.get_job(job_id)
            except ApiframeError as error:
                outcome = error
            step = watch.after_poll(outcome, time.time())
        return step

    def _from_page(self, job_id: str, model: str, learner: DurationLearner) -> Job | None:
        """
        Return the job as the newest page of its model's jobs shows it (None if it does not).

        For the one request a poll costs anyway, a process that knows nothing of the model yet learns how
        long its jobs take from the finished ones on the page.
        """
        try:
            page = parse_page(self.transport.send(page_request(model=model)))
        except (ApiframeValidationError, ApiframeNotFoundError, ApiframeAuthError):
            return None  # a stand-in without the list, or a key that may not list
        found = None
        for job in page.jobs:
            if job.id == job_id:
                found = job
            else:
                learner.learn(job)
        return found

    def test_connection(self) -> tuple[bool, str]:
        """
        Check the key with ``GET /v2/me``: no job, no credit spent.

        It has a short retry budget of its own, so that a wrong URL (refused, unresolvable, silent) is
        reported within seconds.
        """
        try:
            settings = self._settings(self.connection, self.connection.extra_dejson)
            quick = dataclasses.replace(
                settings,
                timeout=min(settings.timeout, TEST_TIMEOUT),
                retry_timeout=min(settings.retry_timeout, TEST_RETRY_WINDOW),
                max_retries=1,
            )
            team = self.get_account(SyncTransport(quick, self.get_conn())).get("team") or {}
        except (ApiframeError, ValueError) as error:
            return False, str(error)
        return (
            True,
            f"Connected to apiframe: team {team.get('name', '?')}, {team.get('credits', '?')} credits.",
        )


class AsyncApiframeClient:
    """The async calls a trigger makes, over the transport of one ``async_client()`` block."""

    def __init__(self, transport: AsyncTransport) -> None:
        self.transport = transport

    async def get_job(self, job_id: str) -> Job:
        """Read ``GET /v2/jobs/{id}`` into a ``Job``."""
        return parse_job(await self.transport.send(job_request(job_id)))

    async def get_lora(self, lora_id: str) -> Lora:
        """Read ``GET /v2/loras/{id}`` into a ``Lora``."""
        return parse_lora(await self.transport.send(lora_request(lora_id)))

    async def submit(
        self, body: Mapping[str, Any], idempotency_key: str, *, path: str = IMAGE_GENERATION.path
    ) -> SubmittedJob:
        """Send one submit as it is and read the API's 202 answer."""
        return counted(
            body, parse_submitted(await self.transport.send(submit_request(path, body, idempotency_key)))
        )


def submit_request(path: str, body: Mapping[str, Any], idempotency_key: str) -> ApiRequest:
    """Build the request that submits ``body`` to an operation's endpoint under an idempotency key."""
    return ApiRequest("POST", path, body=body, idempotency_key=idempotency_key)


def counted(body: Mapping[str, Any], submitted: SubmittedJob) -> SubmittedJob:
    """Count a submit the API answered with a new job (a replay answers its job's status, mostly later)."""
    if submitted.status is JobStatus.QUEUED:
        model = body.get("model", body.get("action"))
        metrics.jobs("submitted", model if isinstance(model, str) else "unknown")
    return submitted
