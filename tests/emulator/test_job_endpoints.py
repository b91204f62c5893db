"""Every job endpoint besides image generation: validation, jobs, prices, idempotency and credits."""

from __future__ import annotations

import pytest

from tests.emulator.conftest import OPERATIONS, VALID_URL, VALID_UUID, Api, full_body, minimal_body

MODEL_ENDPOINTS = sorted(
    (path, model_id)
    for path, operation in OPERATIONS.items()
    if operation["discriminator"] == "model" and path != "/v2/images/generate"
    for model_id in operation["models"]
)
ACTION_ENDPOINTS = ("/v2/images/midjourney/action", "/v2/music/suno/action")


@pytest.fixture
def rich(apiframe_emulator_factory, clock) -> Api:
    """An emulator on the fake clock with a balance for hundreds of videos."""
    return Api(apiframe_emulator_factory(clock=clock, job_duration=10.0, credits=1_000_000))


def test_the_catalogue_has_every_endpoint_of_the_contract():
    counts = {path: len(operation["models"]) for path, operation in OPERATIONS.items()}
    assert counts == {
        "/v2/images/generate": 51,
        "/v2/images/edit": 1,
        "/v2/images/upscale": 2,
        "/v2/images/background-remove": 2,
        "/v2/images/midjourney/action": 5,
        "/v2/videos/generate": 41,
        "/v2/videos/edit": 1,
        "/v2/videos/upscale": 1,
        "/v2/music/generate": 7,
        "/v2/music/suno/action": 4,
    }


@pytest.mark.parametrize(
    ("path", "body", "details"),
    [
        # image editing: the block and its required keys; no top-level prompt
        ("/v2/images/edit", {"model": "flux-fill-pro"}, {"fluxFillParams": ["Required"]}),
        (
            "/v2/images/edit",
            {"model": "flux-fill-pro", "fluxFillParams": {"image": VALID_URL, "mode": "inpaint"}},
            {"fluxFillParams.prompt": ["Required"]},
        ),
        (
            "/v2/images/edit",
            {
                "model": "flux-fill-pro",
                "prompt": "koi",
                "fluxFillParams": {"image": VALID_URL, "prompt": "koi", "mode": "erase"},
            },
            {
                "prompt": ["Unrecognized key"],
                "fluxFillParams.mode": [
                    "Invalid enum value. Expected 'inpaint' | 'outpaint', received 'erase'"
                ],
            },
        ),
        # upscaling: a union of literals, a range
        (
            "/v2/images/upscale",
            {"model": "topaz-image-upscale", "topazUpscaleParams": {"image": VALID_URL, "upscale_factor": 3}},
            {"topazUpscaleParams.upscale_factor": ["Invalid input"]},
        ),
        (
            "/v2/images/upscale",
            {"model": "clarity-upscale", "clarityUpscaleParams": {"image": VALID_URL, "creativity": 2}},
            {"clarityUpscaleParams.creativity": ["Number must be less than or equal to 1"]},
        ),
        (
            "/v2/images/upscale",
            {"model": "imagen-4", "topazUpscaleParams": {}},
            {
                "model": [
                    "Invalid discriminator value. Expected 'clarity-upscale' | 'topaz-image-upscale', "
                    "received 'imagen-4'"
                ]
            },
        ),
        # background removal
        (
            "/v2/images/background-remove",
            {"model": "bria-bg-remove", "briaBgRemoveParams": {"image": "not a url"}},
            {"briaBgRemoveParams.image": ["Invalid url"]},
        ),
        (
            "/v2/images/background-remove",
            {"model": "851-bg-remove", "lab851BgRemoveParams": {"image": VALID_URL, "threshold": -1}},
            {"lab851BgRemoveParams.threshold": ["Number must be greater than or equal to 0"]},
        ),
        ("/v2/images/background-remove", {"briaBgRemoveParams": {}}, {"model": ["Required"]}),
        # Midjourney actions: discriminated by action, fields at the top level
        (
            "/v2/images/midjourney/action",
            {"action": "upsample", "parentJobId": VALID_UUID},
            {"index": ["Required"]},
        ),
        (
            "/v2/images/midjourney/action",
            {"action": "variation", "parentJobId": VALID_UUID, "index": 5},
            {"index": ["Invalid input"]},
        ),
        (
            "/v2/images/midjourney/action",
            {"action": "pan", "direction": "diagonal", "parentJobId": "job-7"},
            {
                "direction": [
                    "Invalid enum value. Expected 'up' | 'down' | 'left' | 'right', received 'diagonal'"
                ],
                "parentJobId": ["Invalid uuid"],
            },
        ),
        (
            "/v2/images/midjourney/action",
            {"action": "outpaint", "parentJobId": VALID_UUID, "zoomRatio": 3, "model": "midjourney"},
            {"zoomRatio": ["Invalid input"], "model": ["Unrecognized key"]},
        ),
        ("/v2/images/midjourney/action", {"parentJobId": VALID_UUID}, {"action": ["Required"]}),
        (
            "/v2/images/midjourney/action",
            {"action": "zoom", "parentJobId": VALID_UUID},
            {
                "action": [
                    "Invalid discriminator value. Expected 'inpaint' | 'outpaint' | 'pan' | 'upsample' | "
                    "'variation', received 'zoom'"
                ]
            },
        ),
        # videos: the prompt's own limit, a union, a nested object
        ("/v2/videos/generate", {"model": "veo-3"}, {"prompt": ["Required"]}),
        (
            "/v2/videos/generate",
            {"model": "veo-3", "prompt": "x" * 4001},
            {"prompt": ["String must contain at most 4000 character(s)"]},
        ),
        (
            "/v2/videos/generate",
            {"model": "veo-3", "prompt": "koi", "veoParams": {"duration": 5, "aspect_ratio": "wide"}},
            {"veoParams.duration": ["Invalid input"], "veoParams.aspect_ratio": ["Invalid"]},
        ),
        (
            "/v2/videos/generate",
            {"model": "kling-3.0-omni", "prompt": "koi", "klingParams": {"multi_prompt": [{"prompt": "a"}]}},
            {"klingParams.multi_prompt.0.duration": ["Required"]},
        ),
        (
            "/v2/videos/generate",
            {
                "model": "kling-3.0-omni",
                "prompt": "koi",
                "klingParams": {"multi_prompt": [{"prompt": "a", "duration": 16, "shot": 1}]},
            },
            {
                "klingParams.multi_prompt.0.duration": ["Number must be less than or equal to 15"],
                "klingParams.multi_prompt.0.shot": ["Unrecognized key"],
            },
        ),
        (
            "/v2/videos/generate",
            {"model": "midjourney-video", "prompt": "koi"},
            {"midjourneyVideoParams": ["Required"]},
        ),
        ("/v2/videos/generate", {"model": "sora-9", "prompt": "koi"}, {"model": ["sora-9"]}),
        ("/v2/videos/generate", {"model": "sora-2", "soraParams": {}}, {"prompt": ["Required"]}),
        # video editing and upscaling
        (
            "/v2/videos/edit",
            {"model": "wan-2.7-videoedit", "prompt": "koi", "wan27VideoeditParams": {"duration": 11}},
            {
                "wan27VideoeditParams.video": ["Required"],
                "wan27VideoeditParams.duration": ["Number must be less than or equal to 10"],
            },
        ),
        (
            "/v2/videos/upscale",
            {"model": "topaz-video-upscale", "topazVideoParams": {"video": VALID_URL}},
            {"topazVideoParams.target_resolution": ["Required"], "topazVideoParams.target_fps": ["Required"]},
        ),
        # music
        (
            "/v2/music/generate",
            {"model": "mureka", "prompt": "x" * 1025},
            {"prompt": ["String must contain at most 1024 character(s)"]},
        ),
        (
            "/v2/music/generate",
            {"model": "elevenlabs-music", "prompt": "koi", "elevenlabsParams": {"music_length_ms": 4999}},
            {"elevenlabsParams.music_length_ms": ["Number must be greater than or equal to 5000"]},
        ),
        (
            "/v2/music/generate",
            {
                "model": "suno",
                "prompt": "koi",
                "webhookEvents": ["done"],
                "sunoParams": {"vocal_gender": "x"},
            },
            {
                "webhookEvents.0": [
                    "Invalid enum value. Expected 'progress' | 'completed' | 'failed', received 'done'"
                ],
                "sunoParams.vocal_gender": ["Invalid enum value. Expected 'm' | 'f', received 'x'"],
            },
        ),
        # Suno actions
        (
            "/v2/music/suno/action",
            {"action": "extend", "parentJobId": VALID_UUID, "continueAt": 0},
            {"continueAt": ["Number must be greater than 0"]},
        ),
        (
            "/v2/music/suno/action",
            {"action": "add_vocals", "parentJobId": VALID_UUID},
            {"prompt": ["Required"]},
        ),
        (
            "/v2/music/suno/action",
            {"action": "stems", "parentJobId": VALID_UUID, "title": "koi", "index": 3},
            {"title": ["Unrecognized key"], "index": ["Invalid input"]},
        ),
        ("/v2/music/suno/action", {"action": "cover"}, {"parentJobId": ["Required"]}),
    ],
)
def test_each_endpoint_answers_400_with_details_by_json_path(api, path, body, details):
    response = api.submit(body, path=path)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["error"] == "Validation failed"
    assert set(answer["details"]) == set(details), answer
    for where, messages in details.items():
        for text in messages:
            assert any(text in message for message in answer["details"][where]), (where, answer)
    stats = api.server.stats()
    assert (stats["jobs_created"], stats["credits_charged"], stats["submits"]) == (0, 0, 1)


@pytest.mark.parametrize("path", sorted(OPERATIONS))
def test_every_endpoint_refuses_a_body_that_is_not_an_object_and_takes_webhooks(rich, path):
    assert rich.submit([1, 2], path=path).status_code == 400
    discriminator = OPERATIONS[path]["discriminator"]
    assert rich.submit({}, path=path).json()["details"][discriminator] == ["Required"]
    model_id = next(iter(OPERATIONS[path]["models"]))
    body = {
        **minimal_body(model_id, path),
        "webhookUrl": "https://example.org/hook",
        "webhookEvents": ["failed"],
    }
    response = rich.submit(body, path=path)
    # An action's parent does not exist: the webhook fields passed validation all the same.
    assert response.status_code == (409 if path in ACTION_ENDPOINTS else 202), response.text


@pytest.mark.parametrize(("path", "model_id"), MODEL_ENDPOINTS)
def test_every_model_of_every_endpoint_makes_a_job_from_its_minimal_and_full_bodies(
    rich, clock, path, model_id
):
    minimal, full = minimal_body(model_id, path), full_body(model_id, path)
    first = rich.submit(minimal, path=path)
    assert first.status_code == 202, first.text
    second = rich.submit(full, path=path)
    assert second.status_code == 202, second.text
    clock.now += 1000
    for response, body in ((first, minimal), (second, full)):
        job = rich.job(response.json()["jobId"])
        assert (job["status"], job["model"], job["input"]) == ("COMPLETED", model_id, body)
        [(kind, urls)] = job["result"].items()
        assert kind == {"images": "images", "videos": "videos", "music": "audio"}[path.split("/")[2]]
        assert urls and all(url.startswith(f"{rich.url}/cdn/{kind}/{job['id']}-") for url in urls)


def test_every_model_of_every_endpoint_is_charged_its_listed_price(rich):
    listed = {entry["id"]: entry for entry in rich.get("/v2/models").json()["models"]}
    charged = 0
    for path, model_id in MODEL_ENDPOINTS:
        job = rich.job(rich.new_job(body=minimal_body(model_id, path), path=path))
        assert job["creditCost"] == listed[model_id]["costMin"], (model_id, listed[model_id])
        charged += job["creditCost"]
    assert rich.server.stats()["credits_charged"] == charged


@pytest.mark.parametrize(
    ("model_id", "params", "seconds"),
    [("veo-3", {"duration": 8}, 8), ("veo-3", {}, 4), ("kling-3.0", {"duration": 15}, 15), ("sora-2", {}, 4)],
)
def test_a_video_is_charged_per_second_of_its_duration(rich, model_id, params, seconds):
    entry = next(e for e in rich.get("/v2/models?modality=video").json()["models"] if e["id"] == model_id)
    shortest, longest = {"veo-3": (4, 8), "kling-3.0": (3, 15), "sora-2": (4, 15)}[model_id]
    assert entry["pricingMode"] == "per-second"
    per_second = entry["costMin"] // shortest
    assert (entry["costMin"], entry["costMax"]) == (per_second * shortest, per_second * longest)
    block = {"veo-3": "veoParams", "kling-3.0": "klingParams", "sora-2": "soraParams"}[model_id]
    job_id = rich.new_job(
        body={"model": model_id, "prompt": "koi", block: params}, path="/v2/videos/generate"
    )
    assert rich.job(job_id)["creditCost"] == per_second * seconds


def test_idempotent_replay_and_credits_on_the_video_endpoint(apiframe_emulator_factory, clock):
    price = 20 * 8  # veo-3 at 20 credits a second, for 8 seconds
    api = Api(apiframe_emulator_factory(clock=clock, job_duration=1.0, credits=price + 50))
    body = {"model": "veo-3", "prompt": "koi leaping", "veoParams": {"duration": 8}}
    first = api.submit(body, path="/v2/videos/generate", idempotency_key="video-1")
    assert first.status_code == 202 and first.json()["status"] == "QUEUED"
    again = api.submit(body, path="/v2/videos/generate", idempotency_key="video-1")
    assert again.json() == {"jobId": first.json()["jobId"], "status": "QUEUED"}
    clock.now += 1000
    done = api.submit(body, path="/v2/videos/generate", idempotency_key="video-1")
    assert done.json() == {"jobId": first.json()["jobId"], "status": "COMPLETED"}
    stats = api.server.stats()
    assert (stats["jobs_created"], stats["idempotent_replays"], stats["credits_charged"]) == (1, 2, price)
    assert api.get("/v2/me").json()["team"]["credits"] == 50
    short = api.submit(body, path="/v2/videos/generate", idempotency_key="video-2")
    assert short.status_code == 402
    assert short.json() == {"error": "Insufficient credits", "creditsRequired": price, "creditsAvailable": 50}
    assert api.server.stats()["jobs_created"] == 1


def test_a_failed_music_job_is_refunded_and_a_prompt_marker_sets_its_length(rich, clock):
    job_id = rich.new_job(
        body={"model": "suno", "prompt": "koi [fail] [duration:3]"}, path="/v2/music/generate"
    )
    assert rich.server.stats()["credits_charged"] == 10
    assert rich.server.controls.state.jobs[job_id].duration == 3.0
    clock.now += 3
    job = rich.job(job_id)
    assert (job["status"], job["result"]) == ("FAILED", None) and job["error"]
    assert rich.server.stats()["credits_charged"] == 0


def test_jobs_of_every_kind_are_listed_and_filtered_by_model(rich, clock):
    video = rich.new_job(body={"model": "sora-2", "prompt": "koi"}, path="/v2/videos/generate")
    clock.now += 1
    song = rich.new_job(body={"model": "udio", "prompt": "koi"}, path="/v2/music/generate")
    clock.now += 1
    image = rich.new_job()
    listed = rich.get("/v2/jobs").json()["jobs"]
    assert [job["id"] for job in listed] == [image, song, video]
    assert [job["id"] for job in rich.get("/v2/jobs?model=sora-2").json()["jobs"]] == [video]
    clock.now += 1000
    assert rich.get("/v2/jobs?model=udio").json()["jobs"][0]["result"]["audio"]


def test_the_prompt_limit_of_a_video_model_is_its_own(rich):
    assert (
        rich.submit({"model": "wan-2.7", "prompt": "x" * 5000}, path="/v2/videos/generate").status_code == 202
    )
    refused = rich.submit({"model": "hailuo-02", "prompt": "x" * 2001}, path="/v2/videos/generate")
    assert refused.json()["details"] == {"prompt": ["String must contain at most 2000 character(s)"]}
