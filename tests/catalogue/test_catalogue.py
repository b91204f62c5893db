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


def test_every_model_in_the_spec_is_in_the_catalogue():
    script = derivation_script()
    spec = json.loads(script.SPEC_COPY.read_text())
    variants = spec["components"]["schemas"]["GenerateImageRequest"]["oneOf"]
    in_spec = {variant["properties"]["model"]["enum"][0] for variant in variants}
    catalogue = json.loads(script.CATALOGUE.read_text())
    assert set(catalogue["models"]) == in_spec and len(in_spec) == 51


def test_a_changed_spec_gives_a_changed_catalogue(tmp_path):
    script = derivation_script()
    spec = json.loads(script.SPEC_COPY.read_text())
    variant = spec["components"]["schemas"]["GenerateImageRequest"]["oneOf"][0]
    variant["properties"]["model"]["enum"] = ["midjourney-v9"]
    changed = tmp_path / "spec.json"
    changed.write_text(json.dumps(spec))
    derived = json.loads(script.derive_from_copy(changed))
    assert "midjourney-v9" in derived["models"] and "midjourney" not in derived["models"]
