"""A ranked search's conditions by *shape*: every value a named parameter.

Building the statement of a ranked search, and SQLAlchemy's work to compile
or even look up a compiled one, cost more client time than the database
takes to answer (docs/performance.md, "Vector search latency"). What makes
two searches need different SQL is little: whether they look under a
namespace prefix, and their filter's operators and the kinds of their
values (a JSON object compares differently from a string). That is a
:class:`SearchShape`; the statement of a shape is built once (its
conditions by :func:`shape_conditions`) and run compiled (``Execute.hot``),
and each search only computes its parameters (:func:`shape_params`): the
moment ``now``, the prefix and its ``LIKE`` pattern, the filter's keys and
values. A dialect whose filters are built only with their values (see
``DialectOps.shaped_filters``) has no shape for a filtered search.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from langgraph.store.base import SearchOp

from langgraph.checkpoint.sqlalchemy.dialects import DialectOps
from langgraph.checkpoint.sqlalchemy.dialects.base import filter_kind
from langgraph.checkpoint.sqlalchemy.repository.store.items import (
    S,
    alive,
    filter_terms,
    prefix_of,
)
from sqlalchemy import ColumnElement, bindparam, or_

__all__ = ["SearchShape", "like_prefix", "search_shape", "shape_conditions"]

#: The ``LIKE`` escape character, SQLAlchemy's ``autoescape`` one.
ESCAPE = "/"


class SearchShape(NamedTuple):
    """What a search's conditions look like, without their values."""

    prefix: bool
    #: (operator, :func:`filter_kind` of the value) of each filter condition.
    terms: tuple[tuple[str, str], ...]


def search_shape(filters: DialectOps, op: SearchOp) -> SearchShape | None:
    """``op``'s shape, or None where ``filters`` can't build its filter
    without the values."""
    terms = tuple(
        (operator, filter_kind(value)) for _, operator, value in filter_terms(op.filter)
    )
    if terms and not filters.shaped_filters:
        return None
    return SearchShape(bool(op.namespace_prefix), terms)


def shape_conditions(
    filters: DialectOps, shape: SearchShape
) -> list[ColumnElement[bool]]:
    """What ``plans.search_conditions`` builds for a search of ``shape``,
    its values left to :func:`shape_params`."""
    conditions = [alive(bindparam("now"))]
    if shape.prefix:
        conditions.append(
            or_(
                S.prefix == bindparam("prefix"),
                S.prefix.like(bindparam("prefix_like"), escape=ESCAPE),
            )
        )
    for i, (operator, kind) in enumerate(shape.terms):
        conditions.append(filters.store_filter_shape(S.value, operator, kind, f"f{i}"))
    return conditions


def shape_params(filters: DialectOps, op: SearchOp, now: datetime) -> dict[str, Any]:
    """The values of :func:`shape_conditions`' parameters for ``op`` at
    ``now``."""
    params: dict[str, Any] = {"now": now}
    if op.namespace_prefix:
        prefix = prefix_of(op.namespace_prefix)
        params["prefix"] = prefix
        params["prefix_like"] = like_prefix(prefix + ".")
    for i, (key, operator, value) in enumerate(filter_terms(op.filter)):
        params.update(filters.store_filter_params(f"f{i}", key, operator, value))
    return params


def like_prefix(text: str) -> str:
    """The ``LIKE`` pattern (escaped by :data:`ESCAPE`) of what starts with
    ``text``: its ``%``, ``_`` and escape character stand for themselves, as
    in SQLAlchemy's ``startswith(..., autoescape=True)``, which escapes the
    value where the statement is built."""
    escaped = text.replace(ESCAPE, ESCAPE * 2)
    escaped = escaped.replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")
    return escaped + "%"
