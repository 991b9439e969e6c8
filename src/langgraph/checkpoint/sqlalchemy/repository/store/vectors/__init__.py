"""Vector search for the store: the ``store_vectors`` table, what goes in it
(texts picked from items by the index's fields, embedded outside any
transaction), and how a search ranks by it.

``config.py`` reads an ``index`` configuration once; ``texts.py`` picks the
texts of put operations; ``codec.py`` turns vectors into column values;
``table.py`` builds the table for the configured dimension; ``plans.py``
holds the sub-plans that write vectors, search by them and set the table up;
``shape.py`` gives a ranked search's conditions by shape, so that its
statement is built once per shape and runs compiled.
How a database ranks (pgvector, sqlite-vec, or exact search in Python) is in
``dialects/vectors.py`` and the files it names.
"""

from langgraph.checkpoint.sqlalchemy.repository.store.vectors.config import (
    VectorConfig,
    vector_config,
)
from langgraph.checkpoint.sqlalchemy.repository.store.vectors.texts import (
    EmbedRequest,
    texts_to_embed,
)

__all__ = ["EmbedRequest", "VectorConfig", "texts_to_embed", "vector_config"]
