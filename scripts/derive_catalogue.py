"""
Derive the provider's model catalogue, for every job operation, from the vendor's OpenAPI document.

    python3 scripts/derive_catalogue.py path/to/openapi.json --commit <sha>   # the vendor added models
    python3 scripts/derive_catalogue.py                                      # re-derive from our copy

With a path, the part of the vendor's document the provider reads (the request schema of every job
endpoint, the document's version, and where it came from) is first written to
``spec/job-requests.openapi.json``; the catalogue ``airflow_provider_apiframe/catalogue/models.json`` is
then always derived from that copy, so ``tests/catalogue/test_catalogue.py`` can check that the two still
agree. Only the standard library is used.

Each endpoint's body is a ``oneOf`` discriminated by ``model`` (one parameter block per model family,
beside an optional top-level ``prompt``) or by ``action`` (fields at the top level). The catalogue keeps
each distinct block once, and per endpoint each model's (or action's) block, prompt rule and price.

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
SPEC_COPY = ROOT / "spec" / "job-requests.openapi.json"
CATALOGUE = ROOT / "airflow_provider_apiframe" / "catalogue" / "models.json"
SOURCE = {"repository": "apiframe-ai/apiframe-nodejs-sdk", "path": "openapi.json"}
# Each job endpoint and the schema of its body.
REQUESTS = {
    "/v2/images/generate": "GenerateImageRequest",
    "/v2/images/edit": "ImageEditRequest",
    "/v2/images/upscale": "ImageUpscaleRequest",
    "/v2/images/background-remove": "ImageBackgroundRemoveRequest",
    "/v2/images/midjourney/action": "MidjourneyActionRequest",
    "/v2/videos/generate": "GenerateVideoRequest",
    "/v2/videos/edit": "VideoEditRequest",
    "/v2/videos/upscale": "VideoUpscaleRequest",
    "/v2/music/generate": "GenerateMusicRequest",
    "/v2/music/suno/action": "SunoActionRequest",
}
DISCRIMINATORS = ("model", "action")
# Common to every request, not part of what a model takes.
WEBHOOK_KEYS = {"webhookUrl", "webhookEvents"}
# The JSON-schema keywords a parameter's check needs; anything else in the spec is documentation.
SCHEMA_KEYWORDS = (
    "type",
    "enum",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "items",
    "minItems",
    "maxItems",
    "anyOf",
)
# Published defaults, by parameter block (seed: the vendor's Imagen 4 page).
DOCUMENTED_DEFAULTS: dict[str, dict[str, Any]] = {
    "imagenParams": {"aspect_ratio": "1:1", "output_format": "jpg", "image_size": "1K"},
}
# Published prices in credits per job (seed); the others are read from GET /v2/models.
DOCUMENTED_PRICES: dict[str, int] = {"imagen-4": 7}


def trim(spec: dict[str, Any], commit: str | None) -> dict[str, Any]:
    """The part of the vendor's document the catalogue is made from."""
    schemas = spec["components"]["schemas"]
    return {
        "openapi": spec["openapi"],
        "info": {"title": spec["info"]["title"], "version": spec["info"]["version"]},
        "x-source": {**SOURCE, "commit": commit},
        "components": {"schemas": {name: schemas[name] for name in REQUESTS.values()}},
    }


def input_kind(name: str, schema: dict[str, Any]) -> str | None:
    """What a URI parameter takes (image, video or audio), by its name; None for any other parameter."""
    if schema.get("format") != "uri" and schema.get("items", {}).get("format") != "uri":
        return None
    if "video" in name or "clip" in name:
        return "video"
    return "audio" if "audio" in name else "image"


def _param(block_key: str, name: str, schema: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"schema": {k: schema[k] for k in SCHEMA_KEYWORDS if k in schema}}
    kind = input_kind(name, schema)
    if kind:
        entry["input"] = kind
    default = DOCUMENTED_DEFAULTS.get(block_key, {}).get(name)
    if default is not None:
        entry["default"] = default
    return entry


def _block(key: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": key,
        "params": {name: _param(key, name, value) for name, value in sorted(schema["properties"].items())},
        "required": sorted(schema.get("required", [])),
    }


def derive(spec_copy: dict[str, Any], spec_sha256: str) -> dict[str, Any]:
    """The catalogue: parameter blocks (each distinct one once) and, per endpoint, its models."""
    blocks: dict[str, dict[str, Any]] = {}

    def block_id(block: dict[str, Any], name: str) -> str:
        # Models share a block when the spec gives them the same one; a variant gets its model's name.
        known = next((bid for bid, seen in blocks.items() if seen == block), None)
        if known is None:
            known = block["key"] if block["key"] and block["key"] not in blocks else f"{block['key']}:{name}"
            blocks[known] = block
        return known

    operations: dict[str, dict[str, Any]] = {}
    for path, schema_name in REQUESTS.items():
        models: dict[str, dict[str, Any]] = {}
        [discriminator] = {
            key
            for variant in spec_copy["components"]["schemas"][schema_name]["oneOf"]
            for key in DISCRIMINATORS
            if key in variant["properties"]
        }
        for variant in spec_copy["components"]["schemas"][schema_name]["oneOf"]:
            properties, required = variant["properties"], set(variant.get("required", []))
            [name] = properties[discriminator]["enum"]
            rest = {k: v for k, v in properties.items() if k not in {discriminator, *WEBHOOK_KEYS}}
            if discriminator == "action":
                # An action's fields sit at the top level: one block with no key of its own.
                top = {"properties": rest, "required": sorted(required - {discriminator})}
                models[name] = {"block": block_id(_block("", top), name), "block_required": True}
            else:
                [key] = [k for k in rest if k.endswith("Params")]
                models[name] = {
                    "block": block_id(_block(key, rest[key]), name),
                    "block_required": key in required,
                }
                if "prompt" in rest:
                    models[name]["prompt_max_length"] = rest["prompt"].get("maxLength")
                    models[name]["prompt_required"] = "prompt" in required
            models[name]["credit_cost"] = DOCUMENTED_PRICES.get(name)
        operations[path] = {"discriminator": discriminator, "models": models}
    return {
        "source": {
            **spec_copy["x-source"],
            "api_version": spec_copy["info"]["version"],
            "spec_sha256": spec_sha256,
        },
        "blocks": blocks,
        "operations": operations,
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
    models = sum(len(operation["models"]) for operation in catalogue["operations"].values())
    print(
        f"{len(catalogue['operations'])} endpoints, {models} models and actions, "
        f"{len(catalogue['blocks'])} parameter blocks -> {CATALOGUE}"
    )


if __name__ == "__main__":
    main()
