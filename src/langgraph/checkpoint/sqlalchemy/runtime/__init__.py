"""The runtime: engines, and the fast paths below SQLAlchemy's public API.

``engines`` makes the engines of ``from_url`` and sizes up a bind handed to
a saver; ``compiled`` runs the hot statements on the DBAPI cursor,
``greenlet`` enters the sync driver from a coroutine, and ``private_api``
checks, once, the private SQLAlchemy calls those two lean on.
"""
