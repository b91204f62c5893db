"""Keys (401/403), /v2/me, and the public /v2/models catalogue."""

from __future__ import annotations

import pytest

from tests.emulator.conftest import CATALOGUE, COUNT_PARAMS, OPERATIONS


@pytest.fixture
def keyed(apiframe_emulator_factory):
    from tests.emulator.conftest import Api

    return Api(
        apiframe_emulator_factory(
            api_keys=("afk_first_key_1234", "afk_second_key_5678"), inactive_keys=("afk_off_9",)
        )
    )


ROUTES = [
    *(("POST", path) for path in sorted(OPERATIONS)),
    ("POST", "/v2/uploads"),
    ("GET", "/v2/jobs/00000000-0000-4000-8000-000000000000"),
    ("GET", "/v2/me"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"X-API-Key": "afk_not_a_key"}, 401), ({"X-API-Key": "afk_off_9"}, 403)],
    ids=["missing", "unknown", "inactive"],
)
def test_bad_keys_are_refused_before_anything_happens(keyed, method, path, headers, status):
    import requests

    response = requests.request(
        method, f"{keyed.url}{path}", json={"prompt": "koi", "model": "imagen-4"}, headers=headers, timeout=10
    )
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/json")
    assert isinstance(response.json()["error"], str) and response.json()["error"]
    stats = keyed.server.stats()
    assert stats["submits"] == stats["polls"] == stats["jobs_created"] == stats["uploads"] == 0


def test_every_listed_key_works(keyed):
    for key in ("afk_first_key_1234", "afk_second_key_5678"):
        assert keyed.submit(headers={"X-API-Key": key}).status_code == 202


def test_me_describes_the_caller_and_reads_the_balance_without_spending(keyed):
    first = keyed.get("/v2/me", headers={"X-API-Key": "afk_second_key_5678"})
    assert first.status_code == 200
    me = first.json()
    assert set(me) == {"user", "team", "apiKey"}
    assert set(me["user"]) == {"id", "email", "role"}
    assert set(me["team"]) == {"id", "name", "credits", "plan", "customerId"}
    assert me["team"]["credits"] == 1000
    assert me["apiKey"]["prefix"] == "afk_seco"
    assert set(me["apiKey"]) == {"id", "name", "prefix"}
    assert keyed.get("/v2/me").json()["team"]["credits"] == 1000

    keyed.new_job(model="imagen-4")
    keyed.new_job(model="imagen-4-fast")
    assert keyed.get("/v2/me").json()["team"]["credits"] == 1000 - 7 - 4
    assert keyed.server.stats()["credits_balance"] == 989


def listed_models(url: str) -> dict[str, dict]:
    import requests

    response = requests.get(f"{url}/v2/models", params={"modality": "image"}, timeout=10)
    assert response.status_code == 200
    return {entry["id"]: entry for entry in response.json()["models"]}


IMAGE_ENDPOINT_MODELS = {
    model_id
    for path, operation in OPERATIONS.items()
    if path.startswith("/v2/images/") and operation["discriminator"] == "model"
    for model_id in operation["models"]
}


def test_models_is_public_and_lists_every_model_of_the_catalogue(keyed):
    catalogue = CATALOGUE
    models = listed_models(keyed.url)
    # Generation's 51, and the models of editing, upscaling and background removal.
    assert set(models) == IMAGE_ENDPOINT_MODELS and len(models) == 51 + 5
    assert set(catalogue["models"]) < set(models)
    for model_id, entry in models.items():
        if model_id not in catalogue["models"]:
            assert entry["modality"] == "image" and entry["pricingMode"] == "flat", entry
            assert entry["costMin"] == entry["costMax"] >= 1
            continue
        assert set(entry) == {"id", "label", "modality", "description", "costMin", "costMax", "pricingMode"}
        assert entry["modality"] == "image" and entry["label"] and entry["description"]
        assert isinstance(entry["costMin"], int) and 1 <= entry["costMin"] <= entry["costMax"], entry
        block = catalogue["blocks"][catalogue["models"][model_id]["block"]]
        counts = [name for name in COUNT_PARAMS if name in block["params"]]
        if counts:
            most = block["params"][counts[0]]["schema"]["maximum"]
            assert (entry["pricingMode"], entry["costMax"]) == ("per-output", entry["costMin"] * most), entry
        else:
            assert (entry["pricingMode"], entry["costMax"]) == ("flat", entry["costMin"]), entry
    assert {key: models["imagen-4"][key] for key in ("label", "description", "costMin", "costMax")} == {
        "label": "Imagen 4",
        "description": "Google's Imagen 4 text-to-image model.",
        "costMin": 7,
        "costMax": 7,
    }
    assert (models["gpt-image-1.5"]["costMax"], models["gpt-image-1.5"]["pricingMode"]) == (
        10 * models["gpt-image-1.5"]["costMin"],
        "per-output",
    )


@pytest.mark.parametrize(
    ("model_id", "label"),
    [
        ("flux-1.1-pro", "Flux 1.1 Pro"),
        ("imagen-4-ultra", "Imagen 4 Ultra"),
        ("gpt-image-1.5", "GPT Image 1.5"),
        ("dall-e-3", "DALL-E 3"),
        ("flux-lora", "Flux LoRA"),
        ("stable-diffusion-3.5-large-turbo", "Stable Diffusion 3.5 Large Turbo"),
    ],
)
def test_labels_are_readable_names_made_from_the_ids(apiframe_emulator, model_id, label):
    assert listed_models(apiframe_emulator.url)[model_id]["label"] == label


def test_placeholder_prices_keep_tiers_in_a_plausible_order(apiframe_emulator):
    price = {model_id: entry["costMin"] for model_id, entry in listed_models(apiframe_emulator.url).items()}
    for ladder in (
        ["imagen-4-fast", "imagen-4", "imagen-4-ultra"],
        ["imagen-3-fast", "imagen-3"],
        ["ideogram-v3-turbo", "ideogram-v3-balanced", "ideogram-v3-quality"],
        ["ideogram-v2-turbo", "ideogram-v2"],
        ["nano-banana-2-lite", "nano-banana-2", "nano-banana-pro"],
        ["flux-2-dev", "flux-2-pro", "flux-2-max"],
        ["flux-1.1-pro", "flux-1.1-pro-ultra"],
        ["seedream-5-lite", "seedream-4", "seedream-5-pro"],
        ["stable-diffusion-3.5-large-turbo", "stable-diffusion-3.5-large"],
        ["stable-diffusion-3.5-medium", "stable-diffusion-3.5-large"],
        ["qwen-image-2", "qwen-image-2-pro"],
        ["wan-image-2.7", "wan-image-2.7-pro"],
        ["dall-e-2", "dall-e-3"],
    ):
        prices = [price[model_id] for model_id in ladder]
        assert prices == sorted(set(prices)), dict(zip(ladder, prices, strict=True))


def test_models_filters_by_modality_and_refuses_unknown_ones(keyed):
    import requests

    every = requests.get(f"{keyed.url}/v2/models", timeout=10).json()["models"]
    by_modality = {
        modality: requests.get(f"{keyed.url}/v2/models?modality={modality}", timeout=10).json()["models"]
        for modality in ("image", "video", "music")
    }
    assert {m: len(entries) for m, entries in by_modality.items()} == {"image": 56, "video": 43, "music": 7}
    assert len(every) == 106 and sorted(e["id"] for e in every) == sorted(
        e["id"] for entries in by_modality.values() for e in entries
    )
    for modality, entries in by_modality.items():
        assert {entry["modality"] for entry in entries} == {modality}
    # Follow-up actions are no models.
    assert not {"upsample", "extend", "stems"} & {entry["id"] for entry in every}
    bad = requests.get(f"{keyed.url}/v2/models?modality=smell", timeout=10)
    assert bad.status_code == 400 and "modality" in bad.json()["details"]


def test_unknown_routes_answer_json_errors(api):
    response = api.get("/v2/nothing-here")
    assert response.status_code == 404 and isinstance(response.json()["error"], str)
