"""The wheel users install: typed, with the model catalogue, one version everywhere."""

from __future__ import annotations

import zipfile
from pathlib import Path

from airflow_provider_apiframe import __version__
from airflow_provider_apiframe.get_provider_info import get_provider_info

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_ships_the_typing_marker_the_catalogue_and_one_version(tmp_path):
    from hatchling.builders.wheel import WheelBuilder

    [wheel] = list(WheelBuilder(str(ROOT)).build(directory=str(tmp_path), versions=["standard"]))
    assert Path(wheel).name == f"airflow_provider_apiframe-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"airflow_provider_apiframe-{__version__}.dist-info/METADATA").decode()
    assert {
        "airflow_provider_apiframe/py.typed",
        "airflow_provider_apiframe/catalogue/models.json",
    } <= names
    assert not any(name.startswith(("tests/", "example_dags/", "spec/")) for name in names)
    assert f"Version: {__version__}" in metadata
    assert get_provider_info()["versions"] == [__version__]


def test_the_changelog_describes_the_current_version():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## {__version__}" in changelog
