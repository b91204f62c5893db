"""
``@task.apiframe_image``: a function that writes the prompt becomes a task that generates the image.

    @task.apiframe_image(model="imagen-4", aspect_ratio="16:9")
    def poster(city: str) -> str:
        return f"A travel poster of {city} at dawn"

    poster.expand(city=["Lisbon", "Kyoto"])  # one image job per city; each returns its image URLs

Keyword arguments that name a parameter of the model's block (``aspect_ratio`` above, ``width`` for Flux)
are image options; ``image_options={...}`` gives them as a dict; the rest are the operator's and
``BaseOperator``'s. The function returns the prompt, or a dict with ``prompt`` and options that override
the decorator's for that call. The task then submits, defers and returns the URLs exactly as
``ApiframeImageGenerateOperator`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    DecoratedOperator,
    context_merge,
    determine_kwargs,
    task_decorator_factory,
)

from airflow_provider_apiframe.exceptions import ApiframeValidationError
from airflow_provider_apiframe.operators.arguments import is_literal
from airflow_provider_apiframe.operators.generate import ApiframeImageGenerateOperator

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context, TaskDecorator


class _PromptFromFunction:
    """Stands for the prompt until the task runs its function: nothing to check when the DAG is parsed."""

    def __repr__(self) -> str:
        return "<the prompt the decorated function returns>"


PROMPT_FROM_FUNCTION = _PromptFromFunction()


class ApiframeImageDecoratedOperator(DecoratedOperator, ApiframeImageGenerateOperator):
    """The operator behind ``@task.apiframe_image``; see the module's description."""

    custom_operator_name = "@task.apiframe_image"
    template_fields = (*DecoratedOperator.template_fields, *ApiframeImageGenerateOperator.template_fields)

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        model: str,
        op_args: Any = None,
        op_kwargs: Any = None,
        **kwargs: Any,
    ) -> None:
        options, rest = _split_options(model, kwargs)
        super().__init__(
            python_callable=python_callable,
            op_args=op_args,
            op_kwargs=op_kwargs,
            model=model,
            prompt=PROMPT_FROM_FUNCTION,
            image_options=options,
            **rest,
        )

    def prepare(self, context: Context) -> None:
        """Call the decorated function for the prompt (and any options it returns)."""
        # The function's own arguments, and any context key it names (ti, params...), as @task passes them.
        # Merged as PythonOperator does: copying Airflow 2's context reads (and warns about) every
        # deprecated key in it.
        context_merge(context, self.op_kwargs)
        arguments = determine_kwargs(self.python_callable, self.op_args, context)
        returned = self.python_callable(*self.op_args, **arguments)
        if isinstance(returned, str):
            self.prompt = returned
        elif isinstance(returned, Mapping) and "prompt" in returned:
            self.prompt = returned["prompt"]
            self.image_options = {
                **self.image_options,
                **{k: v for k, v in returned.items() if k != "prompt"},
            }
        else:
            raise ApiframeValidationError(
                f"{self.python_callable.__name__}() must return the prompt",
                details={
                    "return value": [f"a string, or a dict with 'prompt' and options; got {returned!r}"]
                },
            )


def _split_options(model: Any, kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split the image options (named by the model's block, or ``image_options``) from the rest."""
    options = dict(kwargs.pop("image_options", None) or {})
    if not is_literal(model):
        return options, kwargs  # a templated model names its options only in image_options
    from airflow_provider_apiframe.catalogue.model_specs import get_model

    block = {spec.name for spec in get_model(model).params}
    for name in [name for name in kwargs if name in block]:
        options[name] = kwargs.pop(name)
    return options, kwargs


def apiframe_image_task(
    python_callable: Callable[..., Any] | None = None,
    **kwargs: Any,
) -> TaskDecorator:
    """Turn a function that returns a prompt into an apiframe image task: see the module's description."""
    return task_decorator_factory(  # type: ignore[no-any-return]
        python_callable=python_callable,
        multiple_outputs=False,
        decorated_operator_class=ApiframeImageDecoratedOperator,
        **kwargs,
    )
