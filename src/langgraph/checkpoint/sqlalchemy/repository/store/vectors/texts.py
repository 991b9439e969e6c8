"""Which texts of which items to embed, picked before any transaction opens.

A put with ``index=None`` embeds the configured fields, one with a list of
paths embeds those, one with ``index=False`` embeds nothing; each replaces
whatever vectors the item had (so an item is found by what it holds now, and
``index=False`` takes it out of semantic search). A path that yields several
texts (``tags[*]``) stores one vector per text, named ``path.0``,
``path.1``…, as ``PostgresStore`` and ``InMemoryStore`` name them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from langgraph.store.base.embed import get_text_at_path


class EmbedRequest(NamedTuple):
    """One text to embed, and where its vector goes."""

    namespace: tuple[str, ...]
    key: str
    field_name: str
    text: str


def texts_to_embed(
    puts: Iterable[Any], default_fields: Sequence[str]
) -> list[EmbedRequest]:
    """The texts of ``puts`` (``PutOp``-like: namespace, key, value, index)
    to embed, in order; deletes (``value`` None) and ``index=False`` give none."""
    requests: list[EmbedRequest] = []
    for op in puts:
        if op.value is None or op.index is False:
            continue
        paths = default_fields if op.index is None else op.index
        for path in paths:
            texts = get_text_at_path(op.value, path)
            if len(texts) == 1:
                requests.append(EmbedRequest(op.namespace, op.key, path, texts[0]))
            else:
                requests.extend(
                    EmbedRequest(op.namespace, op.key, f"{path}.{i}", text)
                    for i, text in enumerate(texts)
                )
    return requests
