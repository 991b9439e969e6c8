"""An ``index`` configuration, read and checked once when a store is made.

The keys are LangGraph's ``IndexConfig`` (``dims``, ``embed``, ``fields``)
and those of the official ``PostgresIndexConfig`` (``distance_type``,
``ann_index_config`` with ``kind``, ``vector_type``, ``m``,
``ef_construction``, ``nlist`` or ``lists``), so a configuration written for
``PostgresStore`` works unchanged. Two more, query-time, knobs may ride in
``ann_index_config``: ``ef_search`` (HNSW) and ``probes`` (IVFFlat).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.embeddings import Embeddings
from langgraph.store.base.embed import ensure_embeddings, tokenize_path

Distance = Literal["cosine", "l2", "inner_product"]
DISTANCES: tuple[Distance, ...] = ("cosine", "l2", "inner_product")
VECTOR_TYPES = ("vector", "halfvec")
INDEX_KINDS = ("hnsw", "ivfflat", "flat")

_KNOWN = {"dims", "embed", "fields", "distance_type", "ann_index_config"}
# Build-time parameters per index kind, then the query-time ones.
_BUILD = {"hnsw": ("m", "ef_construction"), "ivfflat": ("lists", "nlist"), "flat": ()}
_QUERY = {"hnsw": ("ef_search",), "ivfflat": ("probes",), "flat": ()}


@dataclass(frozen=True)
class VectorConfig:
    """What the store needs of its ``index`` configuration.

    Attributes:
        dims: the length of every embedding; it is part of the schema.
        embeddings: the configured ``embed``, as LangChain ``Embeddings``.
        fields: the JSON paths embedded by default (``$``: the whole value).
        distance: ``cosine`` (scores ``1 - distance``), ``l2`` (scores the
            negative Euclidean distance) or ``inner_product`` (scores the
            inner product): higher is closer, as in ``PostgresStore``.
        vector_type: ``vector`` (float32) or ``halfvec`` (float16), on
            PostgreSQL; elsewhere embeddings are float32 BLOBs.
        index_kind: ``hnsw``, ``ivfflat`` or ``flat`` (no ANN index).
        index_params: the index's build parameters, as given.
        ef_search: HNSW's candidate list per query (pgvector's default is 40),
            None to leave the server's setting.
        probes: IVFFlat's lists per query, None to leave the server's setting.
    """

    dims: int
    embeddings: Embeddings
    fields: tuple[str, ...]
    distance: Distance = "cosine"
    vector_type: str = "vector"
    index_kind: str = "hnsw"
    index_params: tuple[tuple[str, int], ...] = ()
    ef_search: int | None = None
    probes: int | None = None


def vector_config(index: Mapping[str, Any] | None) -> VectorConfig | None:
    """``index`` checked and read; None when there is none.

    Raises ``TypeError``/``ValueError`` naming the key and what it accepts.
    """
    if index is None:
        return None
    if not isinstance(index, Mapping):
        raise TypeError(
            f"index must be a dict such as {{'dims': 1536, 'embed': ...}}, not {index!r}"
        )
    unknown = sorted(set(index) - _KNOWN)
    if unknown:
        raise ValueError(f"index has unknown keys {unknown}; it takes {sorted(_KNOWN)}")
    dims = index.get("dims")
    if not _positive_int(dims):
        raise ValueError(
            f"index['dims'] must be a positive int (the embedding length), not {dims!r}"
        )
    if index.get("embed") is None:
        raise ValueError(
            "index['embed'] is required: a LangChain Embeddings, a function "
            "list[str] -> list[list[float]] (sync or async), or a "
            "'provider:model' string"
        )
    embeddings = ensure_embeddings(index["embed"])
    fields = index.get("fields") or ["$"]
    if isinstance(fields, str) or not all(isinstance(f, str) and f for f in fields):
        raise TypeError(
            f"index['fields'] must be a list of JSON paths such as ['text', "
            f"'tags[*]'], not {fields!r}"
        )
    distance = index.get("distance_type", "cosine")
    if distance not in DISTANCES:
        raise ValueError(
            f"index['distance_type'] must be one of {list(DISTANCES)}, not {distance!r}"
        )
    ann = dict(index.get("ann_index_config") or {})
    kind = ann.pop("kind", "hnsw")
    if kind not in INDEX_KINDS:
        raise ValueError(
            f"index['ann_index_config']['kind'] must be one of {list(INDEX_KINDS)}, "
            f"not {kind!r}"
        )
    vector_type = ann.pop("vector_type", "vector")
    if vector_type not in VECTOR_TYPES:
        raise ValueError(
            "index['ann_index_config']['vector_type'] must be one of "
            f"{list(VECTOR_TYPES)}, not {vector_type!r}"
        )
    allowed = _BUILD[kind] + _QUERY[kind]
    for name, value in ann.items():
        if name not in allowed:
            raise ValueError(
                f"index['ann_index_config'] has {name!r}, which a {kind!r} index "
                f"does not take (it takes {list(allowed)})"
            )
        if not _positive_int(value):
            raise ValueError(
                f"index['ann_index_config'][{name!r}] must be a positive int, "
                f"not {value!r}"
            )
    return VectorConfig(
        dims=int(dims),  # type: ignore[arg-type]
        embeddings=embeddings,
        fields=tuple(_checked_path(f) for f in fields),
        distance=distance,
        vector_type=vector_type,
        index_kind=kind,
        # pgvector calls IVFFlat's list count ``lists``; PostgresStore ``nlist``.
        index_params=tuple(
            ("lists" if k == "nlist" else k, ann[k]) for k in _BUILD[kind] if k in ann
        ),
        ef_search=ann.get("ef_search"),
        probes=ann.get("probes"),
    )


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _checked_path(path: str) -> str:
    """``path`` if LangGraph's path syntax reads it (``text``, ``tags[*]``,
    ``{a,b.c}``, ``$``); a ValueError naming it otherwise."""
    if path != "$":
        try:
            tokenize_path(path)
        except Exception as exc:
            raise ValueError(
                f"index field {path!r} is not a valid path: {exc}"
            ) from exc
    return path
