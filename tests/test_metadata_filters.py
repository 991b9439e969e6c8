"""Metadata filters mean the same on every backend: PostgreSQL's ``@>`` for
scalars, which is what MySQL's ``JSON_CONTAINS`` needs help with."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.checkpoint.conformance.test_utils import (
    generate_checkpoint,
    generate_config,
    generate_metadata,
)

from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver

DOCUMENTS: dict[str, dict[str, Any]] = {
    "tags-list": {"tags": ["a", "b"]},
    "tags-scalar": {"tags": "a"},
    "n-list": {"n": [1, 2]},
    "n-int": {"n": 1},
    "n-float": {"n": 1.0},
    "n-true": {"n": True},
    "v-list": {"v": [None]},
    "v-null": {"v": None},
    "user-list": {"user": [{"id": 7}]},
    "user-object": {"user": {"id": 7}},
    "user-id-list": {"user": {"id": [7]}},
}

# filter → the documents it matches everywhere.
EXPECTED: list[tuple[dict[str, Any], set[str]]] = [
    ({"tags": "a"}, {"tags-scalar"}),
    ({"n": 1}, {"n-int", "n-float"}),
    ({"n": 1.0}, {"n-int", "n-float"}),
    ({"n": True}, {"n-true"}),
    ({"v": None}, {"v-null"}),
    ({"user": {"id": 7}}, {"user-object"}),
]


@pytest.mark.parametrize(
    ("filter", "matches"), EXPECTED, ids=[repr(f) for f, _ in EXPECTED]
)
def test_scalars_do_not_match_arrays_holding_them(
    saver: SQLAlchemySaver,
    filter: dict[str, Any],
    matches: set[str],
) -> None:
    for name, extra in DOCUMENTS.items():
        saver.put(
            generate_config(name),
            generate_checkpoint(),
            {**generate_metadata(), **extra},  # type: ignore[typeddict-item]
            {},
        )
    found = {
        t.config["configurable"]["thread_id"] for t in saver.list(None, filter=filter)
    }
    assert found == matches
