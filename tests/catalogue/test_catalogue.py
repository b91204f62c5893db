"""The packaged model catalogue is what the derivation script makes of the spec copy in ``spec/``."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def derivation_script():
    spec = importlib.util.spec_from_file_location(
        "derive_catalogue", ROOT / "scripts" / "derive_catalogue.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_catalogue_is_derived_from_the_spec_copy():
    script = derivation_script()
    assert script.CATALOGUE.read_text() == script.derive_from_copy()


def test_catalogue_names_the_spec_it_was_made_from():
    script = derivation_script()
    catalogue = json.loads(script.CATALOGUE.read_text())
    assert catalogue["source"]["spec_sha256"] == hashlib.sha256(script.SPEC_COPY.read_bytes()).hexdigest()
    assert catalogue["source"]["repository"] == "apiframe-ai/apiframe-nodejs-sdk"


def test_every_model_and_action_of_every_endpoint_is_in_the_catalogue():
    script = derivation_script()
    spec = json.loads(script.SPEC_COPY.read_text())
    catalogue = json.loads(script.CATALOGUE.read_text())
    assert set(catalogue["operations"]) == set(script.REQUESTS) and len(script.REQUESTS) == 10
    for path, schema in script.REQUESTS.items():
        variants = spec["components"]["schemas"][schema]["oneOf"]
        operation = catalogue["operations"][path]
        in_spec = {v["properties"][operation["discriminator"]]["enum"][0] for v in variants}
        assert set(operation["models"]) == in_spec, path
    counts = {path: len(operation["models"]) for path, operation in catalogue["operations"].items()}
    assert counts["/v2/images/generate"] == 51 and counts["/v2/videos/generate"] == 41
    assert counts["/v2/music/generate"] == 7 and counts["/v2/images/midjourney/action"] == 5


def test_inputs_are_marked_with_what_they_take():
    catalogue = json.loads(derivation_script().CATALOGUE.read_text())

    def inputs(path, model):
        block = catalogue["blocks"][catalogue["operations"][path]["models"][model]["block"]]
        return {name: param["input"] for name, param in block["params"].items() if "input" in param}

    assert inputs("/v2/images/edit", "flux-fill-pro") == {"image": "image", "mask": "image"}
    assert inputs("/v2/videos/upscale", "topaz-video-upscale") == {"video": "video"}
    assert inputs("/v2/videos/edit", "wan-2.7-videoedit") == {"video": "video", "reference_image": "image"}
    # A Midjourney action's mask is base64 text, not a URL: no input.
    assert inputs("/v2/images/midjourney/action", "inpaint") == {}


def test_an_action_endpoint_keeps_its_fields_at_the_top_level():
    catalogue = json.loads(derivation_script().CATALOGUE.read_text())
    operation = catalogue["operations"]["/v2/images/midjourney/action"]
    assert operation["discriminator"] == "action"
    block = catalogue["blocks"][operation["models"]["upsample"]["block"]]
    assert block["key"] == "" and block["required"] == ["index", "parentJobId"]


def test_a_changed_spec_gives_a_changed_catalogue(tmp_path):
    script = derivation_script()
    spec = json.loads(script.SPEC_COPY.read_text())
    variant = spec["components"]["schemas"]["ImageUpscaleRequest"]["oneOf"][0]
    variant["properties"]["model"]["enum"] = ["topaz-image-upscale-v9"]
    changed = tmp_path / "spec.json"
    changed.write_text(json.dumps(spec))
    derived = json.loads(script.derive_from_copy(changed))
    upscalers = derived["operations"]["/v2/images/upscale"]["models"]
    assert "topaz-image-upscale-v9" in upscalers and "topaz-image-upscale" not in upscalers
