"""``python -m langgraph.checkpoint.sqlalchemy.migrate``: Alembic on our scripts."""

from langgraph.checkpoint.sqlalchemy.migrate import main

main()
