"""Every job operation as a description: the body it builds and the errors it names, before any spend."""

from __future__ import annotations

import pytest

from airflow_provider_apiframe.catalogue.operations import (
    BACKGROUND_REMOVAL,
    IMAGE_EDIT,
    IMAGE_GENERATION,
    IMAGE_UPSCALE,
    MIDJOURNEY_ACTION,
    JobRequest,
)
from airflow_provider_apiframe.exceptions import ApiframeValidationError

PARENT = "3f0c2a4e-0000-4000-8000-000000000001"
PICTURE = "https://example.org/p.png"


@pytest.mark.parametrize(
    ("operation", "request_", "body"),
    [
        (
            IMAGE_GENERATION,
            JobRequest("imagen-4", {"aspect_ratio": "16:9"}, "koi"),
            {"prompt": "koi", "model": "imagen-4", "imagenParams": {"aspect_ratio": "16:9"}},
        ),
        (
            IMAGE_UPSCALE,
            JobRequest("topaz-image-upscale", {"image": PICTURE, "upscale_factor": 4}),
            {"model": "topaz-image-upscale", "topazUpscaleParams": {"image": PICTURE, "upscale_factor": 4}},
        ),
        (
            IMAGE_EDIT,
            JobRequest("flux-fill-pro", {"image": PICTURE, "prompt": "a hat", "mode": "inpaint"}),
            {
                "model": "flux-fill-pro",
                "fluxFillParams": {"image": PICTURE, "prompt": "a hat", "mode": "inpaint"},
            },
        ),
        (
            BACKGROUND_REMOVAL,
            JobRequest("851-bg-remove", {"image": PICTURE, "background_type": "white"}),
            {
                "model": "851-bg-remove",
                "lab851BgRemoveParams": {"image": PICTURE, "background_type": "white"},
            },
        ),
        (
            MIDJOURNEY_ACTION,
            JobRequest("upsample", {"parentJobId": PARENT, "index": 2}),
            {"action": "upsample", "parentJobId": PARENT, "index": 2},
        ),
    ],
    ids=lambda value: getattr(value, "name", None),
)
def test_each_operation_builds_the_body_its_spec_describes(operation, request_, body):
    assert operation.request_body(request_) == body


@pytest.mark.parametrize(
    ("operation", "request_", "field", "needle"),
    [
        (
            IMAGE_UPSCALE,
            JobRequest("topaz-image-upscale", {"image": PICTURE, "upscale_factor": 3}),
            "topazUpscaleParams.upscale_factor",
            "one of 1, 2, 4, 6",
        ),
        (IMAGE_UPSCALE, JobRequest("topaz-image-upscale", {}), "topazUpscaleParams", "required"),
        (
            IMAGE_UPSCALE,
            JobRequest("clarity-upscale", {"image": "ftp://x/y.png"}),
            "clarityUpscaleParams.image",
            "http(s) URL",
        ),
        (
            IMAGE_EDIT,
            JobRequest("flux-fill-pro", {"image": PICTURE, "prompt": "p"}),
            "fluxFillParams.mode",
            "inpaint",
        ),
        (BACKGROUND_REMOVAL, JobRequest("bria", {"image": PICTURE}), "model", "bria-bg-remove"),
        (
            IMAGE_UPSCALE,
            JobRequest("clarity-upscale", {"image": PICTURE}, "a prompt"),
            "prompt",
            "no top-level prompt",
        ),
        (
            MIDJOURNEY_ACTION,
            JobRequest("upsample", {"parentJobId": PARENT, "index": 5}),
            "index",
            "1, 2, 3, 4",
        ),
        (MIDJOURNEY_ACTION, JobRequest("upsample", {"index": 1}), "parentJobId", "UUID"),
        (MIDJOURNEY_ACTION, JobRequest("zoom", {}), "action", "upsample"),
        (
            MIDJOURNEY_ACTION,
            JobRequest("outpaint", {"parentJobId": PARENT, "zoomRatio": 3}),
            "zoomRatio",
            "1.5",
        ),
    ],
)
def test_a_bad_request_names_the_field_and_what_it_allows(operation, request_, field, needle):
    with pytest.raises(ApiframeValidationError) as info:
        operation.request_body(request_)
    assert field in info.value.details, info.value.details
    assert needle in " ".join(info.value.details[field])


@pytest.mark.parametrize(
    ("operation", "field", "argument"),
    [
        (IMAGE_GENERATION, "imagenParams.aspect_ratio", "image_options['aspect_ratio']"),
        (IMAGE_UPSCALE, "topazUpscaleParams.image", "options['image']"),
        (IMAGE_UPSCALE, "model", "model"),
        (MIDJOURNEY_ACTION, "parentJobId", "parent_job_id"),
        (MIDJOURNEY_ACTION, "index", "index"),
        (MIDJOURNEY_ACTION, "zoomRatio", "options['zoomRatio']"),
        (MIDJOURNEY_ACTION, "action", "action"),
    ],
)
def test_errors_name_the_operator_argument_that_holds_the_field(operation, field, argument):
    assert operation.argument_for(field) == argument


def test_each_operation_lists_its_models():
    assert IMAGE_UPSCALE.model_ids() == ("clarity-upscale", "topaz-image-upscale")
    assert MIDJOURNEY_ACTION.model_ids() == ("inpaint", "outpaint", "pan", "upsample", "variation")
    assert len(IMAGE_GENERATION.model_ids()) == 51
