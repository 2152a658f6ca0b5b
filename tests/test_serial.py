"""Facts round-trip through JSON; malformed data is a UsageError naming the path."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpusetup.errors import UsageError
from gpusetup.facts.model import Facts
from gpusetup.plumbing.codec import ShapeError, from_jsonable, to_jsonable
from tests.conftest import FACT_FILES, facts_fixture


@pytest.mark.parametrize("path", FACT_FILES, ids=lambda p: p.name)
def test_fixture_round_trips(path: Path) -> None:
    facts = facts_fixture(path.name)
    again = from_jsonable(Facts, json.loads(json.dumps(to_jsonable(facts))))
    assert again == facts


def test_wrong_type_names_the_path() -> None:
    data = to_jsonable(facts_fixture(FACT_FILES[0].name))
    data["gpus"][0]["memory_total_mib"] = "lots" if data["gpus"] else None
    data["host"]["shm_bytes"] = "big"
    with pytest.raises(ShapeError, match=r"facts\.host\.shm_bytes: expected an integer"):
        from_jsonable(Facts, data)


def test_unknown_and_missing_fields() -> None:
    with pytest.raises(ShapeError, match="unknown field 'bogus'"):
        from_jsonable(Facts, {"bogus": 1})
    with pytest.raises(ShapeError, match="missing field 'index'"):
        from_jsonable(Facts, {"gpus": [{}]})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["host", "gpus", "torch", "index", "env", "x"]), inner, max_size=3
        )
    ),
    max_leaves=10,
)


@given(json_values)
def test_any_json_loads_or_fails_cleanly(data: object) -> None:
    with contextlib.suppress(UsageError):
        from_jsonable(Facts, data)
