"""Helpers for the emulator's tests: a fake clock, a thin HTTP client bound to one server, valid bodies.

The fixtures ``apiframe_emulator`` and ``apiframe_emulator_factory`` come from the project's
pytest plugin, loaded by the top-level conftest.
"""

from __future__ import annotations

import functools
import io
import json
import re
from importlib import resources
from typing import Any

import pytest
import requests
from airflow import __version__ as airflow_version

# The emulator imports nothing of Airflow: its own tests run once, in the Airflow 3.3 environment (the
# Airflow 2.11 suite still runs it as the server of every client test there).
collect_ignore_glob = ["test_*.py"] if airflow_version.startswith("2.") else []

IMAGEN = "imagen-4"
IMAGE_GENERATION = "/v2/images/generate"

# The catalogue file the emulator serves (as the package ships it), and bodies built from its schemas.
RAW_CATALOGUE = json.loads(
    resources.files("airflow_provider_apiframe.catalogue").joinpath("models.json").read_text("utf-8")
)
OPERATIONS = RAW_CATALOGUE["operations"]
# The image generation view the older tests read: its models and the blocks they use.
CATALOGUE = {
    "models": OPERATIONS[IMAGE_GENERATION]["models"],
    "blocks": {
        block_id: block
        for block_id, block in RAW_CATALOGUE["blocks"].items()
        if any(entry["block"] == block_id for entry in OPERATIONS[IMAGE_GENERATION]["models"].values())
    },
}
MODEL_IDS = sorted(CATALOGUE["models"])
# The parameters by which a request asks for several images.
COUNT_PARAMS = ("number_of_images", "n", "num_images", "num_outputs")
VALID_UUID = "3f0c2a5e-8d1b-4c7e-9a6f-2b4d6e8f0a1c"
VALID_URL = "https://example.org/input.png"


def block_of(model_id: str, operation: str = IMAGE_GENERATION) -> dict:
    """The model's parameter block as the catalogue has it: ``key``, ``params``, ``required``."""
    return RAW_CATALOGUE["blocks"][OPERATIONS[operation]["models"][model_id]["block"]]


def valid_value(name: str, schema: dict):
    """A value the schema accepts, built from its keywords (and checked against its pattern)."""
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        return valid_value(name, schema["anyOf"][0])
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    kind = next(k for k in kinds if k != "null")
    low, high = schema.get("minimum"), schema.get("maximum")
    if kind == "integer":
        if low is not None and high is not None:
            return (low + high) // 2
        return low if low is not None else high if high is not None else 42
    if kind == "number":
        return (low + high) / 2 if low is not None and high is not None else 0.5
    if kind == "object":
        return {key: valid_value(key, schema["properties"][key]) for key in schema.get("required", ())}
    if kind == "boolean":
        return True
    if kind == "array":
        return [valid_value(name, schema["items"])]
    assert kind == "string", (name, schema)
    value = {"uri": VALID_URL, "uuid": VALID_UUID}.get(
        schema.get("format"), "16:9" if "aspect" in name else "koi"
    )
    assert "pattern" not in schema or re.fullmatch(schema["pattern"], value), (name, schema)
    return value


def _body(model_id: str, operation: str, params: dict) -> dict:
    """A body for the model (or action) of ``operation`` with this block; a prompt where the body has one."""
    endpoint = OPERATIONS[operation]
    block = block_of(model_id, operation)
    if endpoint["discriminator"] == "action":
        return {"action": model_id, **params}
    body: dict = {"model": model_id}
    if "prompt_max_length" in endpoint["models"][model_id]:
        body["prompt"] = "koi in a pond"
    body[block["key"]] = params
    return body


def minimal_body(model_id: str, operation: str = IMAGE_GENERATION) -> dict:
    """The model's block with only its required keys (an empty block when none is)."""
    block = block_of(model_id, operation)
    params = {name: valid_value(name, block["params"][name]["schema"]) for name in block["required"]}
    return _body(model_id, operation, params)


def full_body(model_id: str, operation: str = IMAGE_GENERATION) -> dict:
    """The model's block with a valid value for every key it has."""
    block = block_of(model_id, operation)
    params = {name: valid_value(name, param["schema"]) for name, param in block["params"].items()}
    return _body(model_id, operation, params)


class FakeClock:
    """A clock that moves only when told to; starts at a fixed, recognisable moment."""

    def __init__(self, start: float = 1_795_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


class Api:
    """Requests against one emulator, with its key unless told otherwise."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.url = server.url
        self.key = server.api_key

    def headers(self, headers: dict[str, str] | None = None, idempotency_key: str | None = None) -> dict:
        """The server's key unless ``headers`` replaces it (``{}`` sends no key at all)."""
        chosen = {"X-API-Key": self.key} if headers is None else dict(headers)
        if idempotency_key is not None:
            chosen["Idempotency-Key"] = idempotency_key
        return chosen

    def submit(
        self,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        idempotency_key: str | None = None,
        path: str = IMAGE_GENERATION,
        **fields,
    ) -> requests.Response:
        """POST a job body to ``path``; without ``body``, a valid imagen-4 request updated with ``fields``."""
        if body is None:
            body = {"prompt": "koi in a pond", "model": IMAGEN, **fields}
        return requests.post(
            f"{self.url}{path}",
            json=body,
            headers=self.headers(headers, idempotency_key),
            timeout=10,
        )

    def get(self, path: str, *, headers: dict[str, str] | None = None) -> requests.Response:
        return requests.get(f"{self.url}{path}", headers=self.headers(headers), timeout=10)

    def job(self, job_id: str) -> dict[str, Any]:
        response = self.get(f"/v2/jobs/{job_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def new_job(self, **fields: Any) -> str:
        """Submit (as :meth:`submit` does) and return the new job's id, failing unless answered 202."""
        response = self.submit(**fields)
        assert response.status_code == 202, response.text
        return response.json()["jobId"]


# --- LoRAs ---------------------------------------------------------------------------------------------

PERSON = {"name": "Ada Lovelace", "gender": "female", "ethnicity": "british"}
# What a LoRA training costs (the spec: 2 credits up front).
LORA_COST = 2


@functools.cache
def training_image(index: int, fmt: str = "PNG") -> bytes:
    """A real, small image, different for each index (PNG, JPEG or WEBP)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (index * 8 % 256, 90, 200)).save(buffer, format=fmt)
    return buffer.getvalue()


def training_images(count: int = 15, fmt: str = "PNG") -> list[tuple[str, bytes]]:
    """``count`` real images as (file name, bytes)."""
    extension = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}[fmt]
    return [(f"face-{index}.{extension}", training_image(index, fmt)) for index in range(count)]


def post_lora(
    api: Api,
    images: list[tuple[str, bytes]] | None = None,
    *,
    headers: dict[str, str] | None = None,
    **fields: str,
) -> requests.Response:
    """POST /v2/loras as multipart: ``images`` (15 PNGs by default) and text fields (a person's)."""
    parts = [
        ("images", (name, data, "application/octet-stream")) for name, data in (images or training_images())
    ]
    return requests.post(
        f"{api.url}/v2/loras",
        data=fields or PERSON,
        files=parts,
        headers=api.headers(headers),
        timeout=60,
    )


def lora(api: Api, lora_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = api.get(f"/v2/loras/{lora_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def new_lora(api: Api, images: list[tuple[str, bytes]] | None = None, **fields: str) -> str:
    """Create a LoRA (as :func:`post_lora` does) and return its id, failing unless answered 202."""
    response = post_lora(api, images, **fields)
    assert response.status_code == 202, response.text
    return response.json()["id"]


def ready_lora_id(api: Api, **fields: str) -> str:
    """Train a LoRA to READY (moving the emulator's clock) and return its id."""
    lora_id = new_lora(api, **fields)
    config = api.server.config
    for _ in range(20):
        api.server.advance_clock(config.job_duration * config.lora_duration_factor)
        if lora(api, lora_id)["status"] == "READY":
            return lora_id
    raise AssertionError(f"LoRA {lora_id} never became READY")


def with_ready_lora(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    """Return the body with a READY LoRA of the team in place of any ``loraId`` it names (same case)."""
    for block in body.values():
        if isinstance(block, dict) and "loraId" in block:
            lora_id = ready_lora_id(api)
            block["loraId"] = lora_id.upper() if block["loraId"].isupper() else lora_id
    return body


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server(apiframe_emulator_factory, clock):
    """An emulator on the fake clock with 10 s jobs, so time only moves when a test says so."""
    return apiframe_emulator_factory(clock=clock, job_duration=10.0)


@pytest.fixture
def api(server) -> Api:
    return Api(server)
