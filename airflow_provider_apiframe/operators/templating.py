"""Rendering of the operators' templated fields, without compiling the strings that hold no template."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2
    from airflow.providers.common.compat.sdk import BaseOperator, Context

    _Operator = BaseOperator
else:
    _Operator = object

# What makes a string a Jinja template; one without any renders to itself.
JINJA_MARKERS = ("{{", "{%", "{#")


def is_template(value: str) -> bool:
    """Whether a string holds Jinja syntax."""
    return any(marker in value for marker in JINJA_MARKERS)


class LiteralStringsMixin(_Operator):
    """
    Render templated fields as Airflow does, but hand back strings that hold no template unchanged.

    Airflow compiles every string of a templated field at every run and every resumption of a deferred
    task: 5 s for the 10,000 literal prompts of a batch, again each time a chunk of it resumes. A string
    without Jinja syntax renders to itself, except that Jinja would drop one trailing newline and a
    native-rendering DAG would turn ``"42"`` into a number: kept as written here.
    """

    def render_template(
        self,
        content: Any,
        context: Context,
        jinja_env: jinja2.Environment | None = None,
        seen_oids: set[int] | None = None,
    ) -> Any:
        """Render ``content`` as Airflow does, except strings that hold no template (returned as given)."""
        # A string ending in one of the operator's template_ext names a template file: Airflow reads it.
        if (
            isinstance(content, str)
            and not is_template(content)
            and not content.endswith(tuple(self.template_ext or ()))
        ):
            return content
        return super().render_template(content, context, jinja_env, seen_oids)
