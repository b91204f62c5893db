"""Idempotency-Key replays and the credit balance (402)."""

from __future__ import annotations


def test_replayed_key_returns_the_original_job_and_charges_once(api, server, clock):
    first = api.submit(idempotency_key="run-1/task-a")
    assert first.status_code == 202 and first.json()["status"] == "QUEUED"
    job_id = first.json()["jobId"]

    clock.now += 5
    again = api.submit(idempotency_key="run-1/task-a")
    assert again.status_code == 202
    assert again.json() == {"jobId": job_id, "status": "PROCESSING"}
    clock.now += 5
    assert api.submit(idempotency_key="run-1/task-a").json() == {"jobId": job_id, "status": "COMPLETED"}

    stats = server.stats()
    assert (stats["jobs_created"], stats["idempotent_replays"], stats["submits"]) == (1, 2, 3)
    assert stats["credits_charged"] == 7 and stats["credits_balance"] == 993
    assert stats["responses_by_status"]["202"] == 3


def test_replay_of_a_failed_job_reports_failed(api, clock):
    job_id = api.new_job(prompt="koi [fail]", idempotency_key="k-fail")
    clock.now += 10
    assert api.submit(prompt="koi [fail]", idempotency_key="k-fail").json() == {
        "jobId": job_id,
        "status": "FAILED",
    }


def test_other_keys_and_no_key_create_new_jobs(api, server):
    ids = {
        api.new_job(idempotency_key="a"),
        api.new_job(idempotency_key="b"),
        api.new_job(),
        api.new_job(),
    }
    assert len(ids) == 4 and server.stats()["credits_charged"] == 28


def test_key_is_forgotten_after_the_ttl(apiframe_emulator_factory, clock):
    from tests.emulator.conftest import Api

    api = Api(apiframe_emulator_factory(clock=clock, idempotency_ttl=60))
    first = api.new_job(idempotency_key="k")
    clock.now += 59
    assert api.new_job(idempotency_key="k") == first
    clock.now += 1
    assert api.new_job(idempotency_key="k") != first
    assert api.server.stats()["jobs_created"] == 2


def test_idempotency_key_longer_than_255_is_400(api, server):
    assert api.submit(idempotency_key="k" * 255).status_code == 202
    response = api.submit(idempotency_key="k" * 256)
    assert response.status_code == 400 and "Idempotency-Key" in response.json()["error"]
    assert server.stats()["jobs_created"] == 1


def test_insufficient_credits_is_402_with_both_numbers_and_creates_nothing(apiframe_emulator_factory):
    from tests.emulator.conftest import Api

    api = Api(apiframe_emulator_factory(credits=10))
    api.new_job(model="imagen-4-fast")  # 4 of 10
    response = api.submit(model="imagen-4")
    assert response.status_code == 402
    assert response.json() == {"error": "Insufficient credits", "creditsRequired": 7, "creditsAvailable": 6}
    stats = api.server.stats()
    assert (stats["jobs_created"], stats["submits"], stats["credits_balance"]) == (1, 2, 6)
    assert api.submit(model="imagen-4-fast").status_code == 202  # 4 still fits
    assert api.get("/v2/me").json()["team"]["credits"] == 2


def test_idempotent_replay_needs_no_credits(apiframe_emulator_factory):
    from tests.emulator.conftest import Api

    api = Api(apiframe_emulator_factory(credits=7))
    job_id = api.new_job(idempotency_key="only-one")
    assert api.submit(idempotency_key="other").status_code == 402
    assert api.submit(idempotency_key="only-one").json()["jobId"] == job_id


def test_reset_forgets_jobs_counters_keys_and_restores_the_balance(api, server):
    import requests

    job_id = api.new_job(idempotency_key="k")
    assert requests.post(f"{api.url}/_emulator/reset", timeout=10).status_code == 200
    stats = requests.get(f"{api.url}/_emulator/stats", timeout=10).json()
    assert stats == {
        "jobs_created": 0,
        "idempotent_replays": 0,
        "submits": 0,
        "polls": 0,
        "list_requests": 0,
        "uploads": 0,
        "responses_by_status": {},
        "requests_by_key": {},
        "dropped_connections": 0,
        "credits_charged": 0,
        "credits_balance": 1000,
        "loras_created": 0,
        "loras_training": 0,
        "loras_by_status": {},
        "lora_cap_refusals": 0,
    }
    assert api.get(f"/v2/jobs/{job_id}").status_code == 404
    assert api.new_job(idempotency_key="k") != job_id


def listed_price(api, model_id: str) -> int:
    [entry] = [entry for entry in api.get("/v2/models").json()["models"] if entry["id"] == model_id]
    return entry["costMin"]


def test_a_per_output_model_is_charged_per_image_asked_for(api, server):
    price = listed_price(api, "gpt-image-1.5")
    three = api.new_job(model="gpt-image-1.5", gptImageParams={"number_of_images": 3})
    one = api.new_job(model="gpt-image-1.5")  # one image unless asked for more
    assert (api.job(three)["creditCost"], api.job(one)["creditCost"]) == (3 * price, price)
    assert server.stats()["credits_charged"] == 4 * price
    assert api.get("/v2/me").json()["team"]["credits"] == 1000 - 4 * price


def test_every_model_is_charged_its_listed_price(api, server):
    from tests.emulator.conftest import LORA_COST, MODEL_IDS, ready_lora_id

    lora_id = ready_lora_id(api)  # flux-lora takes a READY LoRA of the team; its training costs too
    charged = LORA_COST
    for entry in api.get("/v2/models?modality=image").json()["models"]:
        if entry["id"] not in MODEL_IDS:
            continue  # another endpoint's model: see test_job_endpoints
        body = {"prompt": "koi", "model": entry["id"]}
        if entry["id"] == "flux-lora":
            body["fluxLoraParams"] = {"loraId": lora_id}
        if entry["id"] == "ideogram-character":
            body["ideogramParams"] = {"character_reference_image": "https://example.org/face.png"}
        assert api.job(api.new_job(body=body))["creditCost"] == entry["costMin"], entry
        charged += entry["costMin"]
    assert server.stats()["credits_charged"] == charged


def test_a_per_output_request_the_balance_cannot_cover_is_402_with_both_numbers(apiframe_emulator_factory):
    from tests.emulator.conftest import Api

    probe = Api(apiframe_emulator_factory())
    price = listed_price(probe, "kling-image")
    api = Api(apiframe_emulator_factory(credits=3 * price))
    response = api.submit(model="kling-image", klingImageParams={"n": 4})
    assert response.status_code == 402
    assert response.json() == {
        "error": "Insufficient credits",
        "creditsRequired": 4 * price,
        "creditsAvailable": 3 * price,
    }
    assert api.server.stats()["jobs_created"] == 0
    assert api.submit(model="kling-image", klingImageParams={"n": 3}).status_code == 202
    assert api.get("/v2/me").json()["team"]["credits"] == 0


def test_a_failed_per_output_job_refunds_all_its_images(api, server, clock):
    price = listed_price(api, "qwen-image")
    job_id = api.new_job(prompt="koi [fail]", model="qwen-image", qwenImageParams={"num_images": 4})
    assert server.stats()["credits_balance"] == 1000 - 4 * price
    clock.now += 10
    job = api.job(job_id)
    assert (job["status"], job["creditCost"]) == ("FAILED", 4 * price)
    assert server.stats()["credits_balance"] == 1000 and server.stats()["credits_charged"] == 0
