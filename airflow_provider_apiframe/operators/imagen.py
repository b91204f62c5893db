"""
The Imagen face of ``ApiframeImageGenerateOperator``: Imagen's three options as typed arguments.

DAG files import this module on every parse, so it imports neither ``requests``, ``aiohttp`` nor the http
provider: the hook and the trigger are imported where a task runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_apiframe.exceptions import ApiframeValidationError
from airflow_provider_apiframe.operators.arguments import is_literal
from airflow_provider_apiframe.operators.generate import ApiframeImageGenerateOperator

IMAGEN_BLOCK = "imagenParams"


def imagen_options(aspect_ratio: Any, output_format: Any, image_size: Any) -> dict[str, Any]:
    """Make the ``imagenParams`` block of the Imagen operators' typed arguments."""
    return {"aspect_ratio": aspect_ratio, "output_format": output_format, "image_size": image_size}


def check_imagen_model(model: Any) -> None:
    """
    Refuse a known model that is not an Imagen one, naming the Imagen models.

    An unknown model is left to the catalogue's check, which lists every model.
    """
    from airflow_provider_apiframe.catalogue.model_specs import get_model, model_ids

    imagen = [known for known in model_ids() if get_model(known).params_key == IMAGEN_BLOCK]
    if model in model_ids() and model not in imagen:
        raise ApiframeValidationError(
            "Not an Imagen model",
            details={
                "model": [
                    f"got {model!r}; Imagen models are {', '.join(imagen)} "
                    "(the operators without Imagen in their name take any model)"
                ]
            },
        )


class ImagenGenerateOperator(ApiframeImageGenerateOperator):
    """
    Generate images with an Imagen model on apiframe and return their URLs.

    ``ApiframeImageGenerateOperator`` with ``imagenParams`` as typed arguments: the same idempotent
    submit, deferral, resumption after a restart and typed errors.

    :param prompt: What to draw, 1 to 2000 characters. Templated.
    :param aspect_ratio: ``1:1`` (default), ``9:16``, ``16:9``, ``3:4`` or ``4:3``. Templated.
    :param output_format: ``jpg`` (default) or ``png``. Templated.
    :param image_size: ``1K`` (default) or ``2K``. Templated.
    :param model: ``imagen-4`` (default), ``imagen-4-ultra``, ``imagen-4-fast``, ``imagen-3`` or
        ``imagen-3-fast``. Templated.
    :param kwargs: Everything else ``ApiframeImageGenerateOperator`` takes (connection, deferrable,
        poll_interval, timeout, store_to) and ``BaseOperator``'s arguments.
    """

    template_fields: Sequence[str] = (
        "prompt",
        "aspect_ratio",
        "output_format",
        "image_size",
        "model",
        "store_to",
    )

    def __init__(
        self,
        *,
        prompt: str,
        aspect_ratio: str = "1:1",
        output_format: str = "jpg",
        image_size: str = "1K",
        model: str = "imagen-4",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            model=model,
            prompt=prompt,
            image_options=imagen_options(aspect_ratio, output_format, image_size),
            **kwargs,
        )

    def _check(self, *, only_literals: bool = False) -> None:
        if not only_literals or is_literal(self.model):
            check_imagen_model(self.model)
        super()._check(only_literals=only_literals)

    def argument_for(self, path: str) -> str:
        """Name a field of ``imagenParams`` by its typed argument, any other as the parent class does."""
        block, _, key = path.partition(".")
        return key if block == IMAGEN_BLOCK and key else super().argument_for(path)

    # The typed arguments are the one source of the block: templates render them, and the parent class
    # reads (and, in its __init__, writes) the block through this property.
    @property  # type: ignore[override]
    def image_options(self) -> dict[str, Any]:
        """Return the ``imagenParams`` block the typed arguments make."""
        return imagen_options(self.aspect_ratio, self.output_format, self.image_size)

    @image_options.setter
    def image_options(self, value: Mapping[str, Any]) -> None:
        self.aspect_ratio = value["aspect_ratio"]
        self.output_format = value["output_format"]
        self.image_size = value["image_size"]
