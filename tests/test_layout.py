"""
The package's layout keeps its promises: no import cycle, few modules at the top level, and the trigger
classpaths that deferred tasks in users' databases hold still build their triggers.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "airflow_provider_apiframe"
NAME = PACKAGE.name


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The package's modules that ``path`` imports when it runs (at import or lazily), not for type checks."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # `from package import module` imports the module.
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return {name for name in found if name in modules and name != module_name(path)}


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    modules = set(paths)
    return {name: imports_of(path, modules) for name, path in paths.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each import cycle once, as the modules that go round it."""
    found: list[list[str]] = []
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = "open"
        stack.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                found.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)
    return found


def test_no_module_imports_one_that_imports_it_back():
    graph = import_graph()
    assert len(graph) > 40  # the walk found the package
    assert f"{NAME}.wire.transport" in graph[f"{NAME}.hooks.apiframe"]  # and reads its imports
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_a_newcomer_finds_concerns_in_subpackages_not_at_the_top_level():
    top = {path.stem for path in PACKAGE.glob("*.py")} - {"__init__", "get_provider_info"}
    assert len(top) <= 6, sorted(top)


def test_the_package_states_its_invariants_without_assert():
    # `python -O` strips asserts: a check the code relies on must be an `if`.
    found = [
        f"{path.relative_to(PACKAGE)}:{node.lineno}"
        for path in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Assert)
    ]
    assert found == []


# As the previous release's triggers serialized themselves into the trigger table.
STORED_TRIGGERS = [
    (
        f"{NAME}.triggers.apiframe.ApiframeJobTrigger",
        {
            "job_id": "3f0c2a4e-0000-4000-8000-000000000001",
            "apiframe_conn_id": "apiframe_default",
            "poll_interval": 5.0,
            "deadline": 1796000600.0,
            "submitted_at": 1796000000.0,
            "model": "imagen-4",
        },
    ),
    (
        f"{NAME}.triggers.batch.ApiframeBatchSubmitTrigger",
        {
            "apiframe_conn_id": "apiframe_default",
            "submits": [
                [0, "dag/run/task/-1/row-0", {"model": "imagen-4", "prompt": "koi"}],
                [
                    2,
                    "dag/run/task/-1/row-2",
                    {"model": "imagen-4", "prompt": "carp"},
                    {"status": "error", "reason": "failed", "job_id": "j", "message": "no"},
                ],
            ],
            "jobs": {"1": "3f0c2a4e-0000-4000-8000-000000000002"},
            "settled": {},
            "max_jobs_per_row": 3,
            "started_at": 1796000000.0,
        },
    ),
    (
        f"{NAME}.triggers.batch.ApiframeBatchWaitTrigger",
        {
            "apiframe_conn_id": "apiframe_default",
            "jobs": {"0": "3f0c2a4e-0000-4000-8000-000000000001"},
            "settled": {"1": {"status": "error", "job_id": None, "message": "refused"}},
            "poll_interval": 5.0,
            "deadline": 1796000600.0,
            "started_at": 1796000000.0,
            "model": "imagen-4",
        },
    ),
]


@pytest.mark.parametrize(("classpath", "kwargs"), STORED_TRIGGERS, ids=lambda v: str(v).rpartition(".")[2])
def test_a_trigger_stored_by_the_previous_release_is_built_again(classpath, kwargs):
    from importlib import import_module

    module, _, name = classpath.rpartition(".")
    trigger = getattr(import_module(module), name)(**kwargs)
    # Arguments added since then default to what the previous release did.
    assert trigger.serialize() == (classpath, {**kwargs, **ADDED_SINCE.get(name, {})})


# Kwargs a trigger gained after the previous release, with the value that keeps its old behaviour (a
# stored submit trigger does look at its earlier rows' jobs now: every model's pages, none skipped; it
# sends the rows it carries, having no plan in XCom).
ADDED_SINCE = {
    "ApiframeBatchSubmitTrigger": {"path": "/v2/images/generate", "model": None, "done": [], "plan": None}
}


def test_stored_batch_submits_are_read_as_typed_rows():
    from airflow_provider_apiframe.batch.submission import RowSubmit

    stored = STORED_TRIGGERS[1][1]["submits"]
    rows = [RowSubmit.read(entry) for entry in stored]
    assert [(row.row, row.key, row.body["prompt"]) for row in rows] == [
        (0, "dag/run/task/-1/row-0", "koi"),
        (2, "dag/run/task/-1/row-2", "carp"),
    ]
    assert rows[0].failure is None and rows[1].failure["reason"] == "failed"
    assert [row.stored() for row in rows] == stored
