"""
Publishing a review's choice: stored files read back with their manifest rows, and copied with them into
another data set, whose writer's part then holds exactly those files.
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

import pytest

from airflow_provider_apiframe.exceptions import ApiframeValidationError
from airflow_provider_apiframe.storage.data_set import ListedFile, read_data_set, read_files
from airflow_provider_apiframe.storage.manifest import ManifestRow
from airflow_provider_apiframe.storage.publish import copy_files
from tests.conftest import png


@pytest.fixture
def staged(tmp_path, stage_images) -> list[ListedFile]:
    # Two writers' parts: a review picks across parts.
    first = stage_images(tmp_path / "staging", ["a", "b", "c"], writer="jobs:one")
    second = stage_images(tmp_path / "staging", ["d"], writer="jobs:two")
    return [ListedFile(path, row) for path, row in first + second]


def manifest_rows(part: Path) -> list[dict]:
    return [json.loads(line) for line in (part / "metadata.jsonl").read_text().splitlines()]


def test_stored_files_are_read_back_with_their_rows_in_the_order_given(staged):
    picked = [staged[3].path, staged[0].path, staged[2].path]
    assert read_files(picked) == [staged[3], staged[0], staged[2]]
    assert read_files([]) == []


def test_a_file_no_manifest_lists_is_not_a_stored_file(staged, tmp_path):
    loose = Path(staged[0].path).with_name(f"{uuid.uuid4()}-1.png")
    loose.write_bytes(png(5))
    with pytest.raises(ApiframeValidationError, match="no manifest lists"):
        read_files([staged[0].path, str(loose)])
    with pytest.raises(ApiframeValidationError, match="no manifest lists"):
        read_files([str(tmp_path / "nowhere" / "x.png")])


def test_the_chosen_files_are_copied_with_their_rows_into_the_writers_part(staged, tmp_path):
    chosen = [staged[1], staged[3]]
    published = copy_files(chosen, str(tmp_path / "published"), writer="review:run-1")
    [part] = (tmp_path / "published").iterdir()
    assert [listed.path for listed in published] == [str(part / f.row.file_name) for f in chosen]
    assert [listed.row for listed in published] == [f.row for f in chosen]
    assert [ManifestRow(**row) for row in manifest_rows(part)] == [f.row for f in chosen]
    for listed in chosen:
        assert (part / listed.row.file_name).read_bytes() == Path(listed.path).read_bytes()
    # What a consumer of the published data set reads: exactly the two, with their rows.
    assert sorted(f.row.id for f in read_data_set(str(tmp_path / "published"))) == ["b", "d"]


def test_publishing_again_under_the_same_writer_replaces_the_choice(staged, tmp_path, caplog):
    destination = str(tmp_path / "published")
    copy_files(staged[:3], destination, writer="review:run-1")
    [part] = (tmp_path / "published").iterdir()
    kept = (part / staged[0].row.file_name).stat().st_mtime_ns
    with caplog.at_level(logging.INFO):
        copy_files([staged[0], staged[3]], destination, writer="review:run-1")
    assert "holds 2 file(s): 1 copied, 1 already there, 2 removed" in caplog.text
    assert (part / staged[0].row.file_name).stat().st_mtime_ns == kept  # not copied again
    assert sorted(p.name for p in part.iterdir()) == sorted(
        [staged[0].row.file_name, staged[3].row.file_name, "metadata.jsonl"]
    )
    # Another run's part is its own.
    copy_files([staged[2]], destination, writer="review:run-2")
    assert len(list((tmp_path / "published").iterdir())) == 2
    # Nothing chosen: the run's part holds nothing, manifest included.
    assert copy_files([], destination, writer="review:run-1") == []
    assert list(part.iterdir()) == []
    assert sorted(f.row.id for f in read_data_set(destination)) == ["c"]


def test_a_file_changed_since_it_was_stored_is_not_published(staged, tmp_path):
    changed = Path(staged[0].path)
    changed.write_bytes(png(42, size=(30, 30)))
    with pytest.raises(ApiframeValidationError, match="A stored file changed"):
        copy_files([staged[1], staged[0]], str(tmp_path / "published"), writer="review:run-1")
    [part] = (tmp_path / "published").iterdir()
    # No temporary file and no file under the changed one's name; the manifest is not written.
    assert sorted(p.name for p in part.iterdir()) == [staged[1].row.file_name]


def test_two_different_files_of_one_name_are_refused(staged, tmp_path):
    twin = ListedFile(
        staged[1].path, ManifestRow(**{**staged[1].row.__dict__, "file_name": staged[0].row.file_name})
    )
    with pytest.raises(ApiframeValidationError, match="differ, named alike"):
        copy_files([staged[0], twin], str(tmp_path / "published"), writer="review:run-1")
    # The same file twice is one file.
    assert len(copy_files([staged[0], staged[0]], str(tmp_path / "published"), writer="review:run-1")) == 1


def test_publishing_to_object_storage(staged):
    destination = f"memory://published-{uuid.uuid4().hex}"
    published = copy_files(staged[:2], destination, writer="review:run-1")
    # As Airflow's ObjectStoragePath writes the URL (Airflow 2 with memory:///, 3 with memory://).
    assert all(listed.path.startswith("memory://") and "/part-" in listed.path for listed in published)
    assert [f.row for f in read_data_set(destination)] == [f.row for f in staged[:2]]
