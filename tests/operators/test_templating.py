"""Templated fields render as Airflow renders them, without compiling the strings that hold no template."""

from __future__ import annotations

import jinja2

from airflow_provider_apiframe.operators.batch import ImagenBatchGenerateOperator
from airflow_provider_apiframe.operators.imagen import ImagenGenerateOperator


class CountingEnvironment(jinja2.Environment):
    """A Jinja environment that remembers each string it compiled."""

    def __init__(self) -> None:
        super().__init__()
        self.compiled: list[str] = []

    def from_string(self, source, *args, **kwargs):
        self.compiled.append(source)
        return super().from_string(source, *args, **kwargs)


def test_only_the_rows_that_hold_a_template_are_compiled():
    literal = [{"id": i, "prompt": f"koi number {i}, ink on rice paper"} for i in range(1_000)]
    trailing = "a heron at dawn\n"
    op = ImagenBatchGenerateOperator(
        task_id="batch",
        prompts=[*literal, {"id": "dated", "prompt": "koi of {{ ds }}"}, trailing],
        model="{{ params.model }}",
    )
    env = CountingEnvironment()
    op.render_template_fields({"ds": "2026-12-01", "params": {"model": "imagen-4-fast"}}, jinja_env=env)
    assert env.compiled == ["koi of {{ ds }}", "{{ params.model }}"]
    assert op.prompts[1_000] == {"id": "dated", "prompt": "koi of 2026-12-01"}
    assert op.model == "imagen-4-fast"
    # Rendered as written: the very same strings, a trailing newline kept (Jinja would drop it).
    assert all(op.prompts[i]["prompt"] is literal[i]["prompt"] for i in range(1_000))
    assert op.prompts[-1] == trailing


def test_a_single_jobs_templated_prompt_still_renders():
    op = ImagenGenerateOperator(task_id="one", prompt="{# a note #}koi for {{ ds }}")
    op.render_template_fields({"ds": "2026-12-01"}, jinja_env=jinja2.Environment())
    assert op.prompt == "koi for 2026-12-01"
