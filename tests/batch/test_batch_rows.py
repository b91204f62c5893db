"""A batch's rows as the caller gives them: every bad row id or key is a typed error naming the row."""

from __future__ import annotations

import pytest

from airflow_provider_apiframe.batch.rows import MAX_ROW_ID_LENGTH, read_rows
from airflow_provider_apiframe.catalogue.model_specs import get_model
from airflow_provider_apiframe.exceptions import ApiframeValidationError

IMAGEN_4 = get_model("imagen-4")


def refused(prompts: list) -> ApiframeValidationError:
    with pytest.raises(ApiframeValidationError) as info:
        read_rows(prompts, IMAGEN_4, {})
    return info.value


def test_ids_that_read_alike_as_text_are_one_id():
    # 1 and "1" would share one idempotency key: two rows, one job.
    error = refused([{"prompt": "a", "id": "1"}, {"prompt": "b", "id": 2}, {"prompt": "c", "id": 1}])
    # Named by its place and by the id its author gave it.
    assert list(error.details) == ["rows[2] (id 1).id"]
    [message] = error.details["rows[2] (id 1).id"]
    assert "1 is also the id of row 0 ('1')" in message and "compared as text" in message


@pytest.mark.parametrize(
    ("row_id", "says"),
    [
        pytest.param(10**5000, "at most 200 characters, got <int too large to show>", id="5000-digits"),
        pytest.param(10**MAX_ROW_ID_LENGTH, "at most 200 characters", id="201-digits"),
        pytest.param(-(10 ** (MAX_ROW_ID_LENGTH - 1)), "at most 200 characters", id="minus-200-digits"),
        pytest.param("x" * (MAX_ROW_ID_LENGTH + 1), "at most 200 characters, got 'xxxx", id="201-chars"),
        pytest.param(True, "a string or an integer, got True", id="bool"),
        pytest.param(1.0, "a string or an integer, got 1.0", id="float"),
        pytest.param({10**5000}, "a string or an integer, got <set too large to show>", id="set"),
    ],
)
def test_a_bad_row_id_is_a_typed_error_naming_the_row_and_field(row_id, says):
    error = refused(["fine", {"prompt": "koi", "id": row_id}])
    assert list(error.details) == ["rows[1].id"]
    assert says in error.details["rows[1].id"][0]


@pytest.mark.parametrize(
    "row_id",
    [10**MAX_ROW_ID_LENGTH - 1, -(10 ** (MAX_ROW_ID_LENGTH - 1)) + 1, "x" * MAX_ROW_ID_LENGTH, 0, ""],
    ids=["200-digits", "minus-199-digits", "200-chars", "zero", "empty"],
)
def test_row_ids_up_to_the_length_limit_are_read(row_id):
    assert len(str(row_id)) <= MAX_ROW_ID_LENGTH
    [row] = read_rows([{"prompt": "koi", "id": row_id}], IMAGEN_4, {})
    assert row.id == row_id


def test_a_row_with_keys_of_other_types_names_the_row_and_the_keys():
    error = refused([{"prompt": "koi", 1: "x", 10**5000: "y"}])
    assert list(error.details) == ["rows[0]"]
    assert "keys must be strings, got 1, <int too large to show>" in error.details["rows[0]"][0]


def test_a_row_option_json_cannot_carry_names_the_row_and_the_field():
    error = refused([{"prompt": "koi", "aspect_ratio": float("nan")}])
    assert list(error.details) == ["rows[0].imagenParams.aspect_ratio"]
