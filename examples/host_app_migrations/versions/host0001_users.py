"""The host's users table.

Revision ID: host0001
Revises:
Depends on: langgraph_checkpoint

The host's own branch, labelled ``host``. ``depends_on`` names our branch label
(it resolves to ``lgcp0001``, the revision that carries the label and creates
the checkpoint tables), as a host revision with a foreign key to them or a
view over them would need: ``alembic upgrade host@head`` runs ours first, and
``alembic downgrade langgraph_checkpoint@base`` undoes this one too.
``alembic upgrade heads`` runs both branches either way.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "host0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("host",)
depends_on: str | Sequence[str] | None = "langgraph_checkpoint"


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("users")
