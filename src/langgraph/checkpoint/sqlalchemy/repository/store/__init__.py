"""The memory store's table (``store``) as the repository reads and writes it:
plans for ``batch`` (``plans``), the TTL sweep (``sweep``), and the jobs
that carry them (``jobs``). Used by ``langgraph.store.sqlalchemy``."""
