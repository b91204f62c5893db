"""Midjourney and Suno follow-up actions: which parents they take (409 otherwise) and what they make."""

from __future__ import annotations

import uuid

import pytest

from tests.emulator.conftest import Api
from tests.emulator.media_checks import fetch, open_image, wav_seconds

MJ = "/v2/images/midjourney/action"
SUNO = "/v2/music/suno/action"


@pytest.fixture
def rich(apiframe_emulator_factory, clock) -> Api:
    return Api(apiframe_emulator_factory(clock=clock, job_duration=10.0, credits=1_000_000))


def done(api: Api, clock, body: dict, path: str) -> dict:
    job_id = api.new_job(body=body, path=path)
    clock.now += 1000
    job = api.job(job_id)
    assert job["status"] == "COMPLETED", job
    return job


def grid(api: Api, clock, model: str = "midjourney") -> dict:
    return done(api, clock, {"model": model, "prompt": "koi in a pond"}, "/v2/images/generate")


def act(api: Api, body: dict, path: str = MJ):
    return api.submit(body, path=path)


def refused(response, text: str) -> None:
    assert response.status_code == 409, response.text
    assert text in response.json()["error"] and set(response.json()) == {"error"}


# --- Midjourney ---------------------------------------------------------------------------------------


def test_upsample_picks_the_grid_image_at_index(rich, clock):
    parent = grid(rich, clock)
    job = done(rich, clock, {"action": "upsample", "index": 3, "parentJobId": parent["id"]}, MJ)
    assert (job["model"], job["input"]) == (
        "midjourney",
        {"action": "upsample", "index": 3, "parentJobId": parent["id"]},
    )
    [url] = job["result"]["images"]
    upsampled = open_image(fetch(url).content)
    grid_images = [open_image(fetch(u).content) for u in parent["result"]["images"]]
    assert upsampled.size == grid_images[2].size == (1024, 1024)
    # The background colour is the picked image's, no other's.
    corner = upsampled.getpixel((5, 5))
    assert [image.getpixel((5, 5)) == corner for image in grid_images] == [False, False, True, False]


@pytest.mark.parametrize(
    ("action", "fields"),
    [("variation", {"index": 1}), ("variation", {"index": 4})],
)
def test_variation_makes_a_new_grid_of_four(rich, clock, action, fields):
    parent = grid(rich, clock)
    job = done(rich, clock, {"action": action, "parentJobId": parent["id"], **fields}, MJ)
    urls = job["result"]["images"]
    assert len(urls) == 4 and len(set(urls)) == 4
    assert {open_image(fetch(url).content).size for url in urls} == {(1024, 1024)}


@pytest.mark.parametrize(
    ("fields", "size"),
    [
        ({"action": "inpaint", "mask": "iVBORw0KGgo=", "prompt": "a red koi"}, (1024, 1024)),
        ({"action": "outpaint", "zoomRatio": 2}, (1024, 1024)),
        ({"action": "outpaint", "zoomRatio": 1.5}, (1024, 1024)),
        ({"action": "pan", "direction": "left"}, (1536, 1024)),
        ({"action": "pan", "direction": "up"}, (1024, 1536)),
    ],
)
def test_upsample_actions_act_on_an_upsample_and_make_a_grid(rich, clock, fields, size):
    parent = grid(rich, clock)
    upsample = done(rich, clock, {"action": "upsample", "index": 2, "parentJobId": parent["id"]}, MJ)
    job = done(rich, clock, {**fields, "parentJobId": upsample["id"]}, MJ)
    assert job["model"] == "midjourney"
    urls = job["result"]["images"]
    assert len(urls) == 4
    assert {open_image(fetch(url).content).size for url in urls} == {size}
    # A new grid is a grid: it can be upsampled in turn.
    assert act(rich, {"action": "upsample", "index": 1, "parentJobId": job["id"]}).status_code == 202


@pytest.mark.parametrize("action", ["inpaint", "outpaint", "pan"])
def test_upsample_actions_refuse_a_grid_parent(rich, clock, action):
    parent = grid(rich, clock)
    fields = {"inpaint": {"mask": "x"}, "outpaint": {"zoomRatio": 2}, "pan": {"direction": "up"}}[action]
    refused(act(rich, {"action": action, "parentJobId": parent["id"], **fields}), "upsample job")
    assert rich.server.stats()["jobs_created"] == 1


@pytest.mark.parametrize("action", ["upsample", "variation"])
def test_grid_actions_refuse_an_upsample_and_a_non_midjourney_job(rich, clock, action):
    parent = grid(rich, clock)
    upsample = done(rich, clock, {"action": "upsample", "index": 1, "parentJobId": parent["id"]}, MJ)
    refused(act(rich, {"action": action, "index": 1, "parentJobId": upsample["id"]}), "grid job")
    imagen = grid(rich, clock, model="imagen-4")
    refused(act(rich, {"action": action, "index": 1, "parentJobId": imagen["id"]}), "grid job")


def test_a_parent_must_exist_and_be_completed(rich, clock):
    refused(act(rich, {"action": "upsample", "index": 1, "parentJobId": str(uuid.uuid4())}), "not found")
    running = rich.new_job(model="midjourney")
    refused(act(rich, {"action": "upsample", "index": 1, "parentJobId": running}), "QUEUED, not COMPLETED")
    failed = rich.new_job(model="midjourney", prompt="koi [fail]")
    clock.now += 1000
    refused(act(rich, {"action": "upsample", "index": 1, "parentJobId": failed}), "FAILED, not COMPLETED")
    stats = rich.server.stats()
    assert (stats["jobs_created"], stats["responses_by_status"]["409"]) == (2, 3)


def test_an_action_is_charged_its_price_and_replayed_by_its_key(rich, clock):
    parent = grid(rich, clock)
    before = rich.server.stats()["credits_charged"]
    body = {"action": "upsample", "index": 1, "parentJobId": parent["id"]}
    first = rich.submit(body, path=MJ, idempotency_key="u1")
    again = rich.submit(body, path=MJ, idempotency_key="u1")
    assert first.status_code == again.status_code == 202 and first.json()["jobId"] == again.json()["jobId"]
    job = rich.job(first.json()["jobId"])
    assert rich.server.stats()["credits_charged"] - before == job["creditCost"] == 4


def test_an_uppercase_parent_id_finds_the_parent(rich, clock):
    parent = grid(rich, clock)
    assert (
        act(rich, {"action": "variation", "index": 2, "parentJobId": parent["id"].upper()}).status_code == 202
    )


# --- Suno ---------------------------------------------------------------------------------------------


def song(api: Api, clock, model: str = "suno") -> dict:
    return done(api, clock, {"model": model, "prompt": "a koi song"}, "/v2/music/generate")


@pytest.mark.parametrize(
    ("fields", "seconds"),
    [
        ({"action": "extend"}, 16.0),
        ({"action": "extend", "continueAt": 5, "index": 2}, 13.0),
        ({"action": "cover", "style": "jazz"}, 8.0),
        ({"action": "add_vocals", "prompt": "la la koi"}, 8.0),
    ],
)
def test_suno_song_actions_make_two_songs(rich, clock, fields, seconds):
    parent = song(rich, clock)
    job = done(rich, clock, {**fields, "parentJobId": parent["id"]}, SUNO)
    assert job["model"] == "suno"
    urls = job["result"]["audio"]
    assert [url.rsplit("/", 1)[1] for url in urls] == [f"{job['id']}-1.wav", f"{job['id']}-2.wav"]
    assert [wav_seconds(fetch(url).content)[0] for url in urls] == [seconds, seconds]


def test_stems_split_a_track_into_vocals_and_instrumental_and_take_no_action(rich, clock):
    parent = song(rich, clock)
    track_id = parent["result"]["audio"][1].rsplit("/", 1)[1].removesuffix(".wav")
    job = done(rich, clock, {"action": "stems", "trackId": track_id, "parentJobId": parent["id"]}, SUNO)
    urls = job["result"]["audio"]
    assert [url.rsplit("-", 1)[1] for url in urls] == ["vocals.wav", "instrumental.wav"]
    stems = [fetch(url).content for url in urls]
    assert stems[0] != stems[1] and [wav_seconds(stem)[0] for stem in stems] == [8.0, 8.0]
    refused(act(rich, {"action": "cover", "parentJobId": job["id"]}, SUNO), "Suno song job")


def test_an_extended_song_can_be_acted_on_again(rich, clock):
    parent = song(rich, clock)
    extended = done(rich, clock, {"action": "extend", "parentJobId": parent["id"]}, SUNO)
    job = done(rich, clock, {"action": "extend", "index": 2, "parentJobId": extended["id"]}, SUNO)
    assert wav_seconds(fetch(job["result"]["audio"][0]).content)[0] == 24.0


def test_suno_actions_refuse_other_parents_tracks_and_too_late_a_start(rich, clock):
    udio = song(rich, clock, model="udio")
    refused(act(rich, {"action": "extend", "parentJobId": udio["id"]}, SUNO), "Suno song job")
    image = grid(rich, clock, model="imagen-4")
    refused(act(rich, {"action": "stems", "parentJobId": image["id"]}, SUNO), "Suno song job")
    parent = song(rich, clock)
    refused(
        act(rich, {"action": "cover", "trackId": f"{udio['id']}-1", "parentJobId": parent["id"]}, SUNO),
        "not found",
    )
    late = act(rich, {"action": "extend", "continueAt": 8, "parentJobId": parent["id"]}, SUNO)
    assert late.status_code == 400 and list(late.json()["details"]) == ["continueAt"]
    running = rich.new_job(body={"model": "suno", "prompt": "koi"}, path="/v2/music/generate")
    refused(act(rich, {"action": "stems", "parentJobId": running}, SUNO), "not COMPLETED")
    assert (
        act(rich, {"action": "extend", "continueAt": 7.5, "parentJobId": parent["id"]}, SUNO).status_code
        == 202
    )
