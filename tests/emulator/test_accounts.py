"""Keys (401/403), /v2/me, and the public /v2/models catalogue."""

from __future__ import annotations

import pytest


@pytest.fixture
def keyed(apiframe_emulator_factory):
    from tests.emulator.conftest import Api

    return Api(
        apiframe_emulator_factory(
            api_keys=("afk_first_key_1234", "afk_second_key_5678"), inactive_keys=("afk_off_9",)
        )
    )


ROUTES = [
    ("POST", "/v2/images/generate"),
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
    assert stats["submits"] == stats["polls"] == stats["jobs_created"] == 0


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


def test_models_is_public_and_lists_the_imagen_family(keyed):
    import requests

    response = requests.get(f"{keyed.url}/v2/models", params={"modality": "image"}, timeout=10)
    assert response.status_code == 200
    models = {entry["id"]: entry for entry in response.json()["models"]}
    assert set(models) == {"imagen-3", "imagen-3-fast", "imagen-4", "imagen-4-ultra", "imagen-4-fast"}
    entry = models["imagen-4"]
    assert set(entry) == {"id", "label", "modality", "description", "costMin", "costMax", "pricingMode"}
    assert (entry["modality"], entry["pricingMode"]) == ("image", "flat")
    assert entry["costMin"] == entry["costMax"] == 7


def test_models_filters_by_modality_and_refuses_unknown_ones(keyed):
    import requests

    assert requests.get(f"{keyed.url}/v2/models?modality=video", timeout=10).json() == {"models": []}
    assert len(requests.get(f"{keyed.url}/v2/models", timeout=10).json()["models"]) == 5
    bad = requests.get(f"{keyed.url}/v2/models?modality=smell", timeout=10)
    assert bad.status_code == 400 and "modality" in bad.json()["details"]


def test_unknown_routes_answer_json_errors(api):
    response = api.get("/v2/nothing-here")
    assert response.status_code == 404 and isinstance(response.json()["error"], str)
