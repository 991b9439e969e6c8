"""The host application's own tables."""

import sqlalchemy as sa

host_metadata = sa.MetaData()

users = sa.Table(
    "users",
    host_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
)
