"""Single sign-on identities barred for good: when an administrator gives a removed
account's name to someone new, the account forgets its old holder's identity (so that the
new person's first sign-in adopts it), and this table remembers it, so that the old holder's
sign-ins are still refused. A subject ("<iss> <sub>" of the ID token), the name it held,
and when. It starts empty: a name given anew before this migration forgot its old holder's
identity for good.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "barred_identities",
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("barred_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject"),
    )


def downgrade() -> None:
    op.drop_table("barred_identities")
