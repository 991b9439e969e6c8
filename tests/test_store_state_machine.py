"""A Hypothesis state machine: random sequences of store calls, on every
backend, against LangGraph's ``InMemoryStore`` as the oracle; every read
must agree (values, search results under filters, namespace listings).

Orders differ by design (ours: most recently updated first; the oracle:
insertion order), so searches compare the items found, not their order.
So does an object-valued filter (ours: the whole object, as the official
``PostgresStore``; the oracle: any object holding its keys), which the
machine leaves out."""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test
from langgraph.store.memory import InMemoryStore

from langgraph.checkpoint.sqlalchemy.models import StoreRecord
from langgraph.store.sqlalchemy import SQLAlchemyStore

from conftest import Backend

NAMESPACES = st.sampled_from(
    [("a",), ("a", "b"), ("a", "b", "c"), ("a%",), ("a_", "b"), ("x", "b")]
)
PREFIXES = st.sampled_from([(), ("a",), ("a", "b"), ("a%",), ("a_",), ("x",)])
KEYS = st.sampled_from(["k1", "k2", "k3"])
VALUES = st.fixed_dictionaries(
    {
        # JSONB has no negative zero (PostgreSQL reads -0.0 back as 0.0, as
        # the official store does): docs/store.md says so; + 0.0 makes it 0.0.
        "n": st.integers(-5, 5)
        | st.floats(-5, 5, allow_nan=False).map(lambda f: f + 0.0),
        "s": st.sampled_from(["", "a", "b", "ab", "é"]),
        "tag": st.sampled_from(["x", "y"]),
    },
    optional={"obj": st.dictionaries(st.sampled_from(["p", "q"]), st.integers(0, 2))},
)
FILTERS = st.one_of(
    st.none(),
    st.fixed_dictionaries({"tag": st.sampled_from(["x", "y"])}),
    st.builds(
        lambda op, v: {"n": {op: v}},
        st.sampled_from(["$gt", "$gte", "$lt", "$lte", "$eq", "$ne"]),
        st.integers(-5, 5),
    ),
    st.builds(
        lambda op, v: {"s": {op: v}},
        st.sampled_from(["$eq", "$ne"]),
        st.sampled_from(["a", "b", "zz"]),
    ),
    # (No object-valued filters: ours compare the whole object, as the
    # official PostgresStore does; InMemoryStore matches a partial one.)
)
PATHS = st.lists(st.sampled_from(["a", "b", "c", "*", "a%"]), min_size=1, max_size=3)


def _found(items: list[Any]) -> list[tuple[Any, ...]]:
    return sorted(
        (tuple(i.namespace), i.key, json.dumps(i.value, sort_keys=True)) for i in items
    )


class StoreVersusMemory(RuleBasedStateMachine):
    def __init__(self, backend: Backend) -> None:
        super().__init__()
        self.store: SQLAlchemyStore = backend.store()
        with self.store.bind.begin() as conn:  # type: ignore[union-attr]
            conn.execute(StoreRecord.__table__.delete())
        self.oracle = InMemoryStore()

    def teardown(self) -> None:
        self.store.close()

    @rule(ns=NAMESPACES, key=KEYS, value=VALUES)
    def put(self, ns: tuple[str, ...], key: str, value: dict[str, Any]) -> None:
        self.store.put(ns, key, value)
        self.oracle.put(ns, key, value)

    @rule(ns=NAMESPACES, key=KEYS)
    def delete(self, ns: tuple[str, ...], key: str) -> None:
        self.store.delete(ns, key)
        self.oracle.delete(ns, key)

    @rule(ns=NAMESPACES, key=KEYS)
    def get(self, ns: tuple[str, ...], key: str) -> None:
        ours, theirs = self.store.get(ns, key), self.oracle.get(ns, key)
        assert (ours and ours.value) == (theirs and theirs.value)

    @rule(prefix=PREFIXES, filter=FILTERS)
    def search(self, prefix: tuple[str, ...], filter: dict[str, Any] | None) -> None:
        ours = self.store.search(prefix, filter=filter, limit=100)
        theirs = self.oracle.search(prefix, filter=filter, limit=100)
        assert _found(ours) == _found(theirs)

    @rule(prefix=PREFIXES, limit=st.integers(0, 4), offset=st.integers(0, 4))
    def page(self, prefix: tuple[str, ...], limit: int, offset: int) -> None:
        everything = self.store.search(prefix, limit=100)
        page = self.store.search(prefix, limit=limit, offset=offset)
        assert _found(page) == _found(everything[offset : offset + limit])
        assert len(page) == len(self.oracle.search(prefix, limit=limit, offset=offset))

    @rule(
        prefix=st.none() | PATHS,
        suffix=st.none() | PATHS,
        depth=st.none() | st.integers(1, 3),
    )
    def list_namespaces(
        self, prefix: list[str] | None, suffix: list[str] | None, depth: int | None
    ) -> None:
        # InMemoryStore's get or delete of a key it never had leaves an empty
        # namespace behind, which its list_namespaces then lists: drop those.
        data = self.oracle._data
        for namespace in [n for n, items in data.items() if not items]:
            del data[namespace]
        kwargs: dict[str, Any] = {"max_depth": depth, "limit": 100}
        if prefix is not None:
            kwargs["prefix"] = tuple(prefix)
        if suffix is not None:
            kwargs["suffix"] = tuple(suffix)
        assert self.store.list_namespaces(**kwargs) == self.oracle.list_namespaces(
            **kwargs
        )


def test_random_store_calls_agree_with_memory(backend: Backend) -> None:
    run_state_machine_as_test(
        lambda: StoreVersusMemory(backend),
        settings=settings(
            max_examples=10,
            derandomize=bool(os.environ.get("CI")),
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
