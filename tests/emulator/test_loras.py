"""/v2/loras: training forms checked as the spec says, the training's course, listing, archival, flux-lora."""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest
import requests
from PIL import features

from airflow_provider_apiframe.emulator import EmulatorConfig
from airflow_provider_apiframe.emulator.__main__ import _config, _parser
from airflow_provider_apiframe.emulator.lora_form import LoraForm
from airflow_provider_apiframe.emulator.lora_registry import LoraRegistry
from airflow_provider_apiframe.emulator.progress import CoursePlanner
from airflow_provider_apiframe.emulator.teams import MAIN_TEAM
from tests.emulator.conftest import (
    LORA_COST,
    PERSON,
    VALID_UUID,
    Api,
    lora,
    new_lora,
    post_lora,
    ready_lora_id,
    training_images,
)

MEGABYTE = 1024 * 1024
OTHER_KEY = "afk_other_team_key_1"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Every field the spec's Lora schema requires.
LORA_FIELDS = {
    "id",
    "userId",
    "teamId",
    "name",
    "subjectKind",
    "gender",
    "ethnicity",
    "age",
    "status",
    "imageCount",
    "steps",
    "loraRank",
    "isReady",
    "error",
    "createdAt",
    "startedAt",
    "completedAt",
    "hasWeights",
    "triggerWord",
}
# The server below: 10 s image jobs and the plugin's LoRA factor of 3, so a training takes 30 s of the fake
# clock: PENDING for its first 20 % (6 s), UPLOADING for the next 15 % (to 10.5 s), then TRAINING.
LORA_SECONDS = 30.0


@pytest.fixture
def server(apiframe_emulator_factory, clock):
    """An emulator on the fake clock with 10 s jobs (30 s trainings) and a key of a second team."""
    return apiframe_emulator_factory(clock=clock, job_duration=10.0, other_team_keys=(OTHER_KEY,))


@pytest.fixture
def other(api) -> dict[str, str]:
    """Headers of the second team's key."""
    return {"X-API-Key": OTHER_KEY}


def at(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp).timestamp()


def balance(api: Api, headers: dict[str, str] | None = None) -> int:
    return api.get("/v2/me", headers=headers).json()["team"]["credits"]


def flux_lora(api: Api, lora_id: str, headers: dict[str, str] | None = None) -> requests.Response:
    body = {"prompt": "koi in a pond", "model": "flux-lora", "fluxLoraParams": {"loraId": lora_id}}
    return api.submit(body, headers=headers)


# --- creation ------------------------------------------------------------------------------------------


def test_a_lora_is_created_from_15_real_images_and_costs_2_credits(api, server, clock):
    formats = ["PNG", "JPEG", "WEBP"] if features.check("webp") else ["PNG", "JPEG"]
    images = [training_images(15, formats[index % len(formats)])[index] for index in range(15)]
    assert len({name.rsplit(".", 1)[1] for name, _ in images}) == len(formats)
    response = post_lora(api, images, **PERSON)
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer == {"id": answer["id"], "status": "PENDING", "imageCount": 15}
    assert str(uuid.UUID(answer["id"])) == answer["id"]
    assert balance(api) == 1000 - LORA_COST

    me = api.get("/v2/me").json()
    created = lora(api, answer["id"])
    assert set(created) == LORA_FIELDS
    assert created == {
        "id": answer["id"],
        "userId": me["user"]["id"],
        "teamId": me["team"]["id"],
        "name": "Ada Lovelace",
        "subjectKind": "person",
        "gender": "female",
        "ethnicity": "british",
        "age": None,
        "status": "PENDING",
        "imageCount": 15,
        "steps": 1000,
        "loraRank": 16,
        "isReady": False,
        "error": None,
        "createdAt": created["createdAt"],
        "startedAt": None,
        "completedAt": None,
        "hasWeights": False,
        "triggerWord": created["triggerWord"],
    }
    assert at(created["createdAt"]) == pytest.approx(clock.now, abs=0.001)
    word = created["triggerWord"]
    assert word.startswith("adalovelace") and len(word) == len("adalovelace") + 3 and word[-3:].isdigit()
    stats = server.stats()
    assert (stats["loras_created"], stats["loras_training"], stats["credits_charged"]) == (1, 1, LORA_COST)
    assert stats["loras_by_status"] == {"PENDING": 1}


def test_every_field_on_its_limits_is_accepted_and_kept(api, clock):
    lora_id = new_lora(
        api,
        training_images(30, "JPEG"),
        name="x" * 60,
        subjectKind="style",
        age="4" * 40,
        steps="3000",
        loraRank="64",
        webhookUrl="https://example.org/hook",
        webhookEvents="completed, failed",
    )
    created = lora(api, lora_id)
    assert (created["name"], created["subjectKind"], created["gender"], created["ethnicity"]) == (
        "x" * 60,
        "style",
        None,
        None,
    )
    assert (created["imageCount"], created["steps"], created["loraRank"], created["age"]) == (
        30,
        3000,
        64,
        "4" * 40,
    )
    clock.now += LORA_SECONDS  # two trainings in flight at most
    low = lora(api, new_lora(api, name="o", subjectKind="object", steps="500", loraRank="8"))
    assert (low["steps"], low["loraRank"], low["triggerWord"][:-3]) == (500, 8, "o")
    unnamed = lora(api, new_lora(api, name="42 ✨", subjectKind="object"))
    assert unnamed["triggerWord"][:-3] == "lora"  # no letters in the name


def test_two_identical_posts_make_two_loras_and_charge_twice_whatever_the_idempotency_key(api, server):
    answers = [
        post_lora(api, headers={"X-API-Key": api.key, "Idempotency-Key": "same-training"}, **PERSON)
        for _ in range(2)
    ]
    assert [answer.status_code for answer in answers] == [202, 202]
    first, second = (answer.json()["id"] for answer in answers)
    assert first != second
    assert lora(api, first)["name"] == lora(api, second)["name"] == "Ada Lovelace"
    assert balance(api) == 1000 - 2 * LORA_COST
    assert server.stats()["loras_created"] == 2


# --- validation ----------------------------------------------------------------------------------------


def rejected(response: requests.Response, details: dict[str, str]) -> None:
    """400 'Validation failed' whose details hold exactly these fields, a message of each holding its text."""
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["error"] == "Validation failed"
    assert set(answer["details"]) == set(details), answer
    for field, text in details.items():
        assert any(text in message for message in answer["details"][field]), answer


TEXT_FILE = ("notes.txt", b"these are not the images you are looking for\n")
GIF = ("still.gif", b"GIF89a" + bytes(100))


@pytest.mark.parametrize(
    ("images", "fields", "details"),
    [
        (training_images(14), PERSON, {"images": "at least 15"}),
        (training_images(31), PERSON, {"images": "at most 30"}),
        ([], PERSON, {"images": "Required"}),
        (
            [*training_images(14), TEXT_FILE],
            PERSON,
            {"images": "Image 15 (notes.txt) is not a JPEG, PNG or WebP"},
        ),
        ([GIF, *training_images(14)], PERSON, {"images": "Image 1 (still.gif) is not a JPEG, PNG or WebP"}),
        ([("empty.png", b""), *training_images(14)], PERSON, {"images": "is empty"}),
        ([TEXT_FILE, *training_images(13)], PERSON, {"images": "at least 15"}),
        (None, {"name": "Ada"}, {"gender": "Required", "ethnicity": "Required"}),
        (None, {"name": "Ada", "subjectKind": "person", "gender": "male"}, {"ethnicity": "Required"}),
        (None, {**PERSON, "gender": "robot"}, {"gender": "Invalid enum value"}),
        (None, {**PERSON, "ethnicity": "e" * 41}, {"ethnicity": "at most 40"}),
        (None, {**PERSON, "age": ""}, {"age": "at least 1"}),
        (None, {**PERSON, "age": "a" * 41}, {"age": "at most 40"}),
        (None, {**PERSON, "steps": "499"}, {"steps": "greater than or equal to 500"}),
        (None, {**PERSON, "steps": "3001"}, {"steps": "less than or equal to 3000"}),
        (None, {**PERSON, "steps": "1000.5"}, {"steps": "Expected integer, received float"}),
        (None, {**PERSON, "steps": "many"}, {"steps": "Expected number, received nan"}),
        (None, {**PERSON, "loraRank": "7"}, {"loraRank": "greater than or equal to 8"}),
        (None, {**PERSON, "loraRank": "65"}, {"loraRank": "less than or equal to 64"}),
        (None, {**PERSON, "name": "n" * 61}, {"name": "at most 60"}),
        (None, {**PERSON, "name": ""}, {"name": "at least 1"}),
        (None, {"gender": "female", "ethnicity": "british"}, {"name": "Required"}),
        (None, {**PERSON, "subjectKind": "animal"}, {"subjectKind": "Invalid enum value"}),
        (None, {**PERSON, "webhookUrl": "not a url"}, {"webhookUrl": "Invalid url"}),
        (None, {**PERSON, "webhookEvents": "completed,delivered"}, {"webhookEvents": "received 'delivered'"}),
        (
            [*training_images(30), TEXT_FILE],
            {"name": "n" * 61, "steps": "3001", "loraRank": "7"},
            {
                "images": "at most 30",
                "name": "at most 60",
                "gender": "Required",
                "ethnicity": "Required",
                "steps": "less than or equal",
                "loraRank": "greater than or equal",
            },
        ),
    ],
)
def test_each_broken_rule_is_a_400_at_its_field_and_nothing_is_created(api, server, images, fields, details):
    if images == []:
        response = requests.post(
            f"{api.url}/v2/loras",
            files={k: (None, v) for k, v in fields.items()},
            headers=api.headers(),
            timeout=10,
        )
    else:
        response = post_lora(api, images, **fields)
    rejected(response, details)
    assert server.stats()["loras_created"] == 0 and balance(api) == 1000


def test_both_broken_rules_of_the_images_are_reported_together(api):
    response = post_lora(api, [*training_images(12), TEXT_FILE, GIF])
    rejected(response, {"images": "at least 15"})
    messages = response.json()["details"]["images"]
    assert len(messages) == 3 and "notes.txt" in messages[1] and "still.gif" in messages[2]


def test_a_style_or_object_needs_no_gender_nor_ethnicity(api):
    for kind in ("style", "object"):
        assert lora(api, new_lora(api, name=f"a {kind}", subjectKind=kind))["subjectKind"] == kind


def test_a_body_that_is_not_a_multipart_form_is_refused(api):
    response = requests.post(f"{api.url}/v2/loras", json=PERSON, headers=api.headers(), timeout=10)
    rejected(response, {"images": "multipart/form-data"})


def test_an_image_over_10_mb_is_refused(api, server):
    big = ("big.png", PNG_MAGIC + bytes(11 * MEGABYTE))
    rejected(
        post_lora(api, [*training_images(14), big]), {"images": "Image 15 (big.png) is larger than the 10 MB"}
    )
    assert server.stats()["loras_created"] == 0


class StreamedForm:
    """A multipart form of big images made on the fly as it is sent: never held in memory whole."""

    BOUNDARY = "lora-test-boundary-7f3a"

    def __init__(self, fields: dict[str, str], image_sizes: list[int]) -> None:
        self.fields = fields
        self.image_sizes = image_sizes
        self._zeros = bytes(MEGABYTE)

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.BOUNDARY}"

    def _image_header(self, index: int) -> bytes:
        return (
            f"--{self.BOUNDARY}\r\n"
            f'Content-Disposition: form-data; name="images"; filename="big-{index}.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()

    def _fields(self) -> bytes:
        return b"".join(
            f'--{self.BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            for name, value in self.fields.items()
        )

    def __iter__(self) -> Iterator[bytes]:
        yield self._fields()
        for index, size in enumerate(self.image_sizes):
            yield self._image_header(index) + PNG_MAGIC
            left = size - len(PNG_MAGIC)
            while left > 0:
                chunk = self._zeros if left >= MEGABYTE else self._zeros[:left]
                left -= len(chunk)
                yield chunk
            yield b"\r\n"
        yield f"--{self.BOUNDARY}--\r\n".encode()

    def __len__(self) -> int:
        headers = sum(len(self._image_header(index)) + 2 for index in range(len(self.image_sizes)))
        return len(self._fields()) + headers + sum(self.image_sizes) + len(f"--{self.BOUNDARY}--\r\n")


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_images_over_100_mb_in_all_are_refused_without_keeping_them(api, server, declared):
    # 15 images of 7 MB: each under its cap, 105 MB in all. Declared, the body is refused before it is
    # read; chunked, once 100 MB of images have streamed in. Either way the client gets its 400.
    form = StreamedForm(PERSON, [7 * MEGABYTE] * 15)
    started = time.monotonic()
    response = requests.post(
        f"{api.url}/v2/loras",
        data=form if declared else iter(form),
        headers={**api.headers(), "Content-Type": form.content_type},
        timeout=60,
    )
    assert response.request.headers.get("Content-Length") == (str(len(form)) if declared else None)
    rejected(response, {"images": "100 MB in all"})
    assert time.monotonic() - started < 20
    assert server.stats()["loras_created"] == 0 and balance(api) == 1000


def test_the_streamed_form_itself_is_well_formed(api):
    # The helper above, with small images: a valid form, so a refusal there is the size's doing.
    form = StreamedForm(PERSON, [64 * 1024] * 15)
    assert sum(len(piece) for piece in form) == len(form)
    response = requests.post(
        f"{api.url}/v2/loras",
        data=form,
        headers={**api.headers(), "Content-Type": form.content_type},
        timeout=60,
    )
    assert response.status_code == 202, response.text
    assert response.json()["imageCount"] == 15


# --- the training's course -----------------------------------------------------------------------------


def test_a_training_goes_pending_uploading_training_ready(api, server, clock):
    lora_id = new_lora(api)
    created = clock.now
    seen: list[str] = []
    snapshots = {}
    for _ in range(int(LORA_SECONDS) + 2):
        snapshot = lora(api, lora_id)
        if not seen or seen[-1] != snapshot["status"]:
            seen.append(snapshot["status"])
            snapshots[snapshot["status"]] = snapshot
        clock.now += 1
    assert seen == ["PENDING", "UPLOADING", "TRAINING", "READY"]
    pending, uploading, training, ready = (snapshots[status] for status in seen)
    assert pending["startedAt"] is None and pending["completedAt"] is None
    assert at(uploading["startedAt"]) == pytest.approx(created + 0.2 * LORA_SECONDS, abs=0.001)
    assert training["startedAt"] == uploading["startedAt"] and training["completedAt"] is None
    assert not any(
        snapshot["isReady"] or snapshot["hasWeights"] for snapshot in (pending, uploading, training)
    )
    assert ready["isReady"] and ready["hasWeights"] and ready["error"] is None
    assert at(ready["completedAt"]) == pytest.approx(created + LORA_SECONDS, abs=0.001)
    assert len({snapshot["triggerWord"] for snapshot in snapshots.values()}) == 1
    stats = server.stats()
    assert stats["loras_training"] == 0 and stats["loras_by_status"] == {"READY": 1}
    assert stats["credits_charged"] == LORA_COST


def test_a_name_with_fail_ends_failed_with_an_error_and_its_credits_back(api, server, clock):
    lora_id = new_lora(api, name="koi [fail]", subjectKind="object")
    assert balance(api) == 1000 - LORA_COST
    clock.now += LORA_SECONDS - 1
    assert lora(api, lora_id)["status"] == "TRAINING"
    assert balance(api) == 1000 - LORA_COST
    clock.now += 1
    failed = lora(api, lora_id)
    assert failed["status"] == "FAILED" and isinstance(failed["error"], str) and failed["error"]
    assert not failed["isReady"] and not failed["hasWeights"]
    assert at(failed["completedAt"]) == pytest.approx(clock.now, abs=0.001)
    assert balance(api) == 1000
    assert server.stats()["credits_charged"] == 0


def test_the_refund_is_booked_when_the_training_fails_even_if_nobody_looks(api, server, clock):
    new_lora(api, name="koi [fail]", subjectKind="object")
    clock.now += LORA_SECONDS
    assert server.stats()["credits_balance"] == 1000


def test_the_job_failure_rate_fails_trainings_too(apiframe_emulator_factory, clock):
    api = Api(apiframe_emulator_factory(clock=clock, job_duration=10.0, job_failure_rate=1.0))
    lora_id = new_lora(api)
    clock.now += LORA_SECONDS
    assert lora(api, lora_id)["status"] == "FAILED"
    assert balance(api) == 1000


def test_markers_in_the_name_fail_the_first_keep_training_or_set_the_length(api, clock):
    first = new_lora(api, name="koi [fail-first]", subjectKind="object")
    second = new_lora(api, name="koi [fail-first]", subjectKind="object")
    clock.now += LORA_SECONDS
    assert (lora(api, first)["status"], lora(api, second)["status"]) == ("FAILED", "READY")
    endless = new_lora(api, name="koi [never]", subjectKind="object")
    short = new_lora(api, name="koi [duration:4]", subjectKind="object")
    clock.now += 4
    assert lora(api, short)["status"] == "READY"
    clock.now += 10_000
    assert lora(api, endless)["status"] == "TRAINING"


def test_training_lengths_are_drawn_lognormal_around_the_factor_times_a_job():
    registry = LoraRegistry(CoursePlanner(3.0, 0.4, "linear", 7, stream="loras"), 5.0)
    form = LoraForm("koi", "object", None, None, None, 1000, 16, 15, 15_000)
    lengths = [registry.create(form, MAIN_TEAM, 0.0).duration for _ in range(300)]
    assert statistics.median(lengths) == pytest.approx(15.0, rel=0.12)
    assert len(set(lengths)) == 300


def test_the_factor_sets_a_trainings_length(apiframe_emulator_factory, clock):
    api = Api(apiframe_emulator_factory(clock=clock, job_duration=2.0, lora_duration_factor=7.0))
    lora_id = new_lora(api)
    assert api.server.controls.state.loras.loras[lora_id].duration == 14.0
    assert EmulatorConfig().lora_duration_factor == 5.0 and EmulatorConfig().lora_training_cap == 2


# --- the in-flight cap ---------------------------------------------------------------------------------


def test_a_training_over_the_in_flight_cap_is_a_429_with_retry_after(api, server, clock):
    first, _ = new_lora(api), new_lora(api)
    clock.now += 10
    refused = post_lora(api)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == str(int(LORA_SECONDS - 10))
    assert isinstance(refused.json()["error"], str)
    assert balance(api) == 1000 - 2 * LORA_COST
    stats = server.stats()
    assert (stats["loras_created"], stats["loras_training"], stats["lora_cap_refusals"]) == (2, 2, 1)
    clock.now += LORA_SECONDS - 10
    assert lora(api, first)["status"] == "READY"
    assert post_lora(api).status_code == 202


def test_the_cap_is_a_setting_counted_per_team_and_archiving_frees_a_slot(apiframe_emulator_factory, clock):
    server = apiframe_emulator_factory(
        clock=clock, job_duration=10.0, lora_training_cap=1, other_team_keys=(OTHER_KEY,)
    )
    api = Api(server)
    lora_id = new_lora(api)
    assert post_lora(api).status_code == 429
    assert post_lora(api, headers={"X-API-Key": OTHER_KEY}).status_code == 202  # the other team's own slot
    assert (
        requests.delete(f"{api.url}/v2/loras/{lora_id}", headers=api.headers(), timeout=10).status_code == 204
    )
    assert post_lora(api).status_code == 202


def test_a_never_ending_training_gives_a_fallback_retry_after(apiframe_emulator_factory, clock):
    api = Api(apiframe_emulator_factory(clock=clock, lora_training_cap=1))
    new_lora(api, name="koi [never]", subjectKind="object")
    refused = post_lora(api)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"


# --- credits -------------------------------------------------------------------------------------------


def test_a_balance_under_2_credits_is_a_402_with_both_numbers(apiframe_emulator_factory, clock):
    api = Api(apiframe_emulator_factory(clock=clock, credits=3))
    assert post_lora(api).status_code == 202
    response = post_lora(api)
    assert response.status_code == 402
    assert response.json() == {"error": "Insufficient credits", "creditsRequired": 2, "creditsAvailable": 1}
    assert api.server.stats()["loras_created"] == 1 and balance(api) == 1


# --- listing -------------------------------------------------------------------------------------------


@pytest.fixture
def many(apiframe_emulator_factory, clock) -> Api:
    """An emulator whose team may train 40 LoRAs at once, with a key of a second team."""
    return Api(
        apiframe_emulator_factory(
            clock=clock, job_duration=10.0, lora_training_cap=40, other_team_keys=(OTHER_KEY,)
        )
    )


def listing(api: Api, query: str = "", headers: dict[str, str] | None = None) -> dict:
    response = api.get(f"/v2/loras{query}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_listing_pages_newest_first_and_hides_the_archived(many, clock):
    # Two LoRAs per moment of the fake clock: ties keep the order of creation.
    ids = []
    for index in range(5):
        ids.append(new_lora(many, name=f"lora {index}", subjectKind="object"))
        if index % 2:
            clock.now += 1
    archived = ids[2]
    assert (
        requests.delete(f"{many.url}/v2/loras/{archived}", headers=many.headers(), timeout=10).status_code
        == 204
    )
    first = listing(many, "?limit=2")
    assert set(first) == {"items", "nextCursor"}
    assert [item["id"] for item in first["items"]] == [ids[4], ids[3]]
    assert all(set(item) == LORA_FIELDS for item in first["items"])
    assert first["nextCursor"] == ids[3]
    new_lora(many, name="newer", subjectKind="object")  # a page stays right when newer LoRAs arrive
    second = listing(many, f"?limit=2&cursor={first['nextCursor']}")
    assert [item["id"] for item in second["items"]] == [ids[1], ids[0]]
    assert second["nextCursor"] is None
    every = listing(many, f"?limit=2&cursor={first['nextCursor']}&includeArchived=true")
    assert [item["id"] for item in every["items"]] == [ids[2], ids[1]]
    assert every["items"][0]["status"] == "ARCHIVED" and every["nextCursor"] == ids[1]
    assert [item["id"] for item in listing(many, f"?cursor={ids[1]}&includeArchived=true")["items"]] == [
        ids[0]
    ]
    assert len(listing(many, "?includeArchived=false")["items"]) == 5


def test_the_listing_takes_24_by_default_and_100_at_most(many):
    ids = [new_lora(many, name=f"lora {index}", subjectKind="style") for index in range(25)]
    page = listing(many)
    assert len(page["items"]) == 24 and page["nextCursor"] == ids[1]
    assert len(listing(many, "?limit=100")["items"]) == 25


@pytest.mark.parametrize(
    ("query", "details"),
    [
        ("?limit=0", {"limit": "greater than or equal to 1"}),
        ("?limit=101", {"limit": "less than or equal to 100"}),
        ("?limit=many", {"limit": "Expected number"}),
        ("?cursor=lora-7", {"cursor": "Invalid uuid"}),
        ("?includeArchived=yes", {"includeArchived": "Expected 'true' | 'false'"}),
        ("?limit=0&cursor=x&includeArchived=1", {"limit": "", "cursor": "", "includeArchived": ""}),
    ],
)
def test_an_invalid_listing_query_is_a_400_by_parameter(api, query, details):
    rejected(api.get(f"/v2/loras{query}"), details)


def test_a_cursor_of_no_lora_of_the_team_gives_an_empty_page(many, other):
    mine = new_lora(many)
    assert listing(many, f"?cursor={VALID_UUID}") == {"items": [], "nextCursor": None}
    assert listing(many, f"?cursor={mine}", headers=other) == {"items": [], "nextCursor": None}


def test_each_team_lists_only_its_own_loras(many, other):
    mine = new_lora(many)
    response = post_lora(many, headers=other, name="theirs", subjectKind="object")
    assert response.status_code == 202
    assert [item["id"] for item in listing(many)["items"]] == [mine]
    their_list = listing(many, headers=other)["items"]
    assert [item["id"] for item in their_list] == [response.json()["id"]]
    me = many.get("/v2/me", headers=other).json()
    assert their_list[0]["teamId"] == me["team"]["id"] != many.get("/v2/me").json()["team"]["id"]
    assert their_list[0]["userId"] == me["user"]["id"]
    assert balance(many, other) == balance(many) == 1000 - LORA_COST  # each team pays for its own


# --- one LoRA: read and archive ------------------------------------------------------------------------


def test_a_lora_id_that_is_not_a_uuid_is_a_400_and_an_unknown_one_a_404(api):
    for method in (requests.get, requests.delete):
        response = method(f"{api.url}/v2/loras/lora-7", headers=api.headers(), timeout=10)
        assert response.status_code == 400
        assert response.json() == {"error": "Validation failed", "details": {"id": ["Invalid uuid"]}}
        unknown = method(f"{api.url}/v2/loras/{VALID_UUID}", headers=api.headers(), timeout=10)
        assert unknown.status_code == 404 and isinstance(unknown.json()["error"], str)


def test_another_teams_lora_is_not_found_nor_archived(api, other):
    lora_id = new_lora(api)
    assert api.get(f"/v2/loras/{lora_id}", headers=other).status_code == 404
    deleted = requests.delete(f"{api.url}/v2/loras/{lora_id}", headers=other, timeout=10)
    assert deleted.status_code == 404
    assert lora(api, lora_id)["status"] == "PENDING"
    assert lora(api, lora_id.upper())["id"] == lora_id  # a UUID in capitals is the same id


def test_delete_archives_and_answers_204_again(api, server, clock):
    lora_id = ready_lora_id(api)
    ready = lora(api, lora_id)
    for _ in range(2):
        response = requests.delete(f"{api.url}/v2/loras/{lora_id}", headers=api.headers(), timeout=10)
        assert response.status_code == 204 and response.content == b""
    clock.now += 5
    archived = lora(api, lora_id)
    assert archived["status"] == "ARCHIVED" and not archived["isReady"] and not archived["hasWeights"]
    assert (archived["startedAt"], archived["completedAt"]) == (ready["startedAt"], ready["completedAt"])
    assert archived["triggerWord"] == ready["triggerWord"]
    assert server.stats()["loras_by_status"] == {"ARCHIVED": 1}


def test_archiving_a_training_stops_it_without_a_refund(api, clock):
    lora_id = new_lora(api, name="koi [fail]", subjectKind="object")
    clock.now += 5
    assert (
        requests.delete(f"{api.url}/v2/loras/{lora_id}", headers=api.headers(), timeout=10).status_code == 204
    )
    clock.now += LORA_SECONDS
    archived = lora(api, lora_id)
    assert archived["status"] == "ARCHIVED" and archived["error"] is None and archived["completedAt"] is None
    assert balance(api) == 1000 - LORA_COST


# --- flux-lora -----------------------------------------------------------------------------------------


def test_flux_lora_generates_with_a_ready_lora_of_the_team(api, clock):
    lora_id = ready_lora_id(api)
    response = flux_lora(api, lora_id)
    assert response.status_code == 202, response.text
    clock.now += 10
    job = api.job(response.json()["jobId"])
    assert job["status"] == "COMPLETED" and len(job["result"]["images"]) == 1
    assert job["input"]["fluxLoraParams"] == {"loraId": lora_id}


def test_flux_lora_refuses_a_lora_that_is_not_ready_or_not_the_teams(api, server, clock, other):
    ready = new_lora(api)
    failed = new_lora(api, name="koi [fail]", subjectKind="object")
    clock.now += LORA_SECONDS
    archived = ready_lora_id(api)
    assert (
        requests.delete(f"{api.url}/v2/loras/{archived}", headers=api.headers(), timeout=10).status_code
        == 204
    )
    endless = new_lora(api, name="koi [never]", subjectKind="object")
    theirs = post_lora(api, headers=other).json()["id"]
    clock.now += LORA_SECONDS
    assert lora(api, ready)["status"] == "READY" and lora(api, theirs, other)["status"] == "READY"
    before = server.stats()
    cases = {
        VALID_UUID: "not found",
        failed: "FAILED",
        archived: "ARCHIVED",
        endless: "TRAINING",
        theirs: "not found",
    }
    for lora_id, text in cases.items():
        response = flux_lora(api, lora_id)
        assert response.status_code == 400, (lora_id, response.text)
        answer = response.json()
        assert answer["error"] == "Validation failed" and list(answer["details"]) == ["fluxLoraParams.loraId"]
        assert text in answer["details"]["fluxLoraParams.loraId"][0]
    after = server.stats()
    assert (after["jobs_created"], after["credits_charged"]) == (
        before["jobs_created"],
        before["credits_charged"],
    )
    assert flux_lora(api, ready).status_code == 202
    assert flux_lora(api, theirs, headers=other).status_code == 202


def test_flux_lora_with_a_lora_still_training_is_refused_until_it_is_ready(api, clock):
    lora_id = new_lora(api)
    clock.now += 12
    assert "TRAINING" in flux_lora(api, lora_id).json()["details"]["fluxLoraParams.loraId"][0]
    clock.now += LORA_SECONDS
    assert flux_lora(api, lora_id).status_code == 202


# --- what every endpoint shares ------------------------------------------------------------------------


def test_the_lora_routes_need_a_valid_active_key(apiframe_emulator_factory):
    server = apiframe_emulator_factory(inactive_keys=("afk_switched_off_1",))
    api = Api(server)
    lora_id = VALID_UUID
    for headers, status in (
        ({}, 401),
        ({"X-API-Key": "afk_unknown_key"}, 401),
        ({"X-API-Key": "afk_switched_off_1"}, 403),
    ):
        assert post_lora(api, headers=headers).status_code == status
        assert api.get("/v2/loras", headers=headers).status_code == status
        assert api.get(f"/v2/loras/{lora_id}", headers=headers).status_code == status
        assert (
            requests.delete(f"{api.url}/v2/loras/{lora_id}", headers=headers, timeout=10).status_code
            == status
        )
    assert server.stats()["loras_created"] == 0


def test_the_lora_routes_count_against_the_rate_limit(apiframe_emulator_factory):
    api = Api(apiframe_emulator_factory(rate_limit_per_minute=2))
    assert post_lora(api).status_code == 202
    assert api.get("/v2/loras").status_code == 200
    limited = post_lora(api)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert api.server.stats()["loras_created"] == 1


def test_fault_rules_match_the_lora_routes(api, server):
    server.add_faults({"action": "status", "status": 503, "method": "POST", "path": "/v2/loras"})
    assert post_lora(api).status_code == 503
    assert server.stats()["loras_created"] == 0
    server.add_faults({"action": "drop_after", "method": "POST", "path": "/v2/loras"})
    with pytest.raises(requests.ConnectionError):
        post_lora(api)
    # The LoRA exists and is paid for although its answer was lost: the client must look for it.
    [item] = listing(api)["items"]
    assert item["name"] == "Ada Lovelace" and balance(api) == 1000 - LORA_COST


def test_reset_forgets_the_loras(api, server):
    lora_id = new_lora(api)
    response = requests.post(f"{api.url}/_emulator/reset", timeout=10)
    assert response.status_code == 200
    assert api.get(f"/v2/loras/{lora_id}").status_code == 404
    assert listing(api) == {"items": [], "nextCursor": None}
    stats = server.stats()
    assert (stats["loras_created"], stats["loras_training"], stats["credits_balance"]) == (0, 0, 1000)


def test_the_command_line_sets_the_lora_settings_and_the_second_teams_keys():
    args = _parser().parse_args(
        ["--lora-duration-factor", "40", "--lora-training-cap", "5", "--other-team-key", "afk_other_cli_1"]
    )
    config = _config(args)
    assert (config.lora_duration_factor, config.lora_training_cap, config.other_team_keys) == (
        40.0,
        5,
        ("afk_other_cli_1",),
    )
    defaults = _config(_parser().parse_args([]))
    assert (defaults.lora_duration_factor, defaults.lora_training_cap, defaults.other_team_keys) == (
        5.0,
        2,
        (),
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {"lora_duration_factor": -1.0},
        {"lora_training_cap": -1},
        {"other_team_keys": ("afk_test_emulator_key",)},  # a key of both teams
    ],
)
def test_bad_lora_settings_are_refused(overrides):
    with pytest.raises(ValueError):
        EmulatorConfig(**overrides)
