"""Librarians' roles and single sign-on (issue 14, item 6): a role per librarian (every
existing librarian becomes an administrator, so a running service keeps working as before),
a flag for accounts that sign in through OpenID Connect only, the identity that signs in to
such an account (the ID token's issuer and subject, unique), and the history of librarian
accounts (added, role changed), who did it and when.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("librarians") as batch:
        batch.add_column(sa.Column("role", sa.String(length=20), nullable=False,
                                   server_default="administrator"))
        batch.add_column(sa.Column("sso", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("sso_subject", sa.Text(), nullable=True))
    op.create_index("ix_librarians_sso_subject", "librarians", ["sso_subject"], unique=True)
    op.create_table(
        "librarian_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("librarian", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("by", sa.String(length=100), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_librarian_events_librarian", "librarian_events", ["librarian"])


def downgrade() -> None:
    op.drop_index("ix_librarian_events_librarian", table_name="librarian_events")
    op.drop_table("librarian_events")
    op.drop_index("ix_librarians_sso_subject", table_name="librarians")
    with op.batch_alter_table("librarians") as batch:
        batch.drop_column("sso_subject")
        batch.drop_column("sso")
        batch.drop_column("role")
