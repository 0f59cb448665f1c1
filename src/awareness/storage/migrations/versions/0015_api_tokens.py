"""Librarians' tokens for the JSON API (issue 14, item 7): only each token's SHA-256 is
stored, with a label, when it was made, last used and revoked.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("librarian_id", sa.Integer(), sa.ForeignKey("librarians.id"), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("last_used_at", WHEN, nullable=True),
        sa.Column("revoked_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_api_tokens_librarian_id", "api_tokens", ["librarian_id"])


def downgrade() -> None:
    op.drop_index("ix_api_tokens_librarian_id", table_name="api_tokens")
    op.drop_table("api_tokens")
