"""
Derive the provider's image-model catalogue from the vendor's OpenAPI document.

    python3 scripts/derive_catalogue.py path/to/openapi.json --commit <sha>   # the vendor added models
    python3 scripts/derive_catalogue.py                                      # re-derive from our copy

With a path, the part of the vendor's document the provider reads (``GenerateImageRequest``, the
document's version, and where it came from) is first written to ``spec/image-models.openapi.json``;
the catalogue ``airflow_provider_apiframe/catalogue/image_models.json`` is then always derived from that
copy, so ``tests/catalogue/test_catalogue.py`` can check that the two still agree. Only the standard
library is used.

The spec gives types, allowed values, ranges, patterns and required keys, but no defaults and no
prices: those come from the vendor's published pages (``../shared/API.md``, marked seed) and are listed
here, where a new fact is one line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SPEC_COPY = ROOT / "spec" / "image-models.openapi.json"
CATALOGUE = ROOT / "airflow_provider_apiframe" / "catalogue" / "image_models.json"
SOURCE = {"repository": "apiframe-ai/apiframe-nodejs-sdk", "path": "openapi.json"}
# Common to every model, not part of its parameter block.
COMMON_KEYS = {"prompt", "model", "webhookUrl", "webhookEvents"}
# The JSON-schema keywords a parameter's check needs; anything else in the spec is documentation.
SCHEMA_KEYWORDS = (
    "type",
    "enum",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "items",
    "minItems",
    "maxItems",
)
# Published defaults, by parameter block (seed: the vendor's Imagen 4 page).
DOCUMENTED_DEFAULTS: dict[str, dict[str, Any]] = {
    "imagenParams": {"aspect_ratio": "1:1", "output_format": "jpg", "image_size": "1K"},
}
# Published prices in credits per generation (seed); the others are read from GET /v2/models.
DOCUMENTED_PRICES: dict[str, int] = {"imagen-4": 7}


def trim(spec: dict[str, Any], commit: str | None) -> dict[str, Any]:
    """The part of the vendor's document the catalogue is made from."""
    return {
        "openapi": spec["openapi"],
        "info": {"title": spec["info"]["title"], "version": spec["info"]["version"]},
        "x-source": {**SOURCE, "commit": commit},
        "components": {
            "schemas": {"GenerateImageRequest": spec["components"]["schemas"]["GenerateImageRequest"]}
        },
    }


def _is_image_input(schema: dict[str, Any]) -> bool:
    # Every URI a parameter block takes is an image the model reads (references, masks, inputs).
    return schema.get("format") == "uri" or schema.get("items", {}).get("format") == "uri"


def _param(block_key: str, name: str, schema: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"schema": {k: schema[k] for k in SCHEMA_KEYWORDS if k in schema}}
    if _is_image_input(schema):
        entry["image_input"] = True
    default = DOCUMENTED_DEFAULTS.get(block_key, {}).get(name)
    if default is not None:
        entry["default"] = default
    return entry


def derive(spec_copy: dict[str, Any], spec_sha256: str) -> dict[str, Any]:
    """The catalogue: parameter blocks (each distinct one once) and the models that use them."""
    blocks: dict[str, dict[str, Any]] = {}
    models: dict[str, dict[str, Any]] = {}
    for variant in spec_copy["components"]["schemas"]["GenerateImageRequest"]["oneOf"]:
        properties = variant["properties"]
        [model_id] = properties["model"]["enum"]
        [block_key] = [key for key in properties if key not in COMMON_KEYS]
        block_schema = properties[block_key]
        block = {
            "key": block_key,
            "params": {
                name: _param(block_key, name, schema)
                for name, schema in sorted(block_schema.get("properties", {}).items())
            },
            "required": sorted(block_schema.get("required", [])),
        }
        # Models share a block when the spec gives them the same one; a variant gets its first model's name.
        block_id = next((bid for bid, known in blocks.items() if known == block), None)
        if block_id is None:
            block_id = block_key if block_key not in blocks else f"{block_key}:{model_id}"
            blocks[block_id] = block
        prompt = properties["prompt"]
        models[model_id] = {
            "block": block_id,
            "block_required": block_key in variant.get("required", []),
            "prompt_max_length": prompt.get("maxLength"),
            "credit_cost": DOCUMENTED_PRICES.get(model_id),
        }
    return {
        "source": {
            **spec_copy["x-source"],
            "api_version": spec_copy["info"]["version"],
            "spec_sha256": spec_sha256,
        },
        "blocks": blocks,
        "models": models,
    }


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, sort_keys=True) + "\n"


def derive_from_copy(path: Path = SPEC_COPY) -> str:
    """The catalogue file's text, derived from the spec copy at ``path``."""
    raw = path.read_bytes()
    return dumps(derive(json.loads(raw), hashlib.sha256(raw).hexdigest()))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("vendor_spec", nargs="?", type=Path, help="the vendor's full openapi.json")
    parser.add_argument("--commit", help="the vendor repository's commit the document was read at")
    args = parser.parse_args()
    if args.vendor_spec:
        SPEC_COPY.parent.mkdir(exist_ok=True)
        SPEC_COPY.write_text(dumps(trim(json.loads(args.vendor_spec.read_text()), args.commit)))
    CATALOGUE.write_text(derive_from_copy())
    catalogue = json.loads(CATALOGUE.read_text())
    print(f"{len(catalogue['models'])} models, {len(catalogue['blocks'])} parameter blocks -> {CATALOGUE}")


if __name__ == "__main__":
    main()
