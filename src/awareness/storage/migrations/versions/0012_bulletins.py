"""Weekly bulletins: numbered issues and their entries, and librarians' e-mail addresses
for an editor's reminders and test sends (issue 13).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("librarians", sa.Column("email", sa.String(320), nullable=True))
    op.create_table(
        "bulletin_issues",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("bulletin", sa.String(100), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("covers_from", WHEN, nullable=False),
        sa.Column("due_at", WHEN, nullable=False),
        sa.Column("intro", sa.Text(), nullable=False, server_default=""),
        sa.Column("spotlight_id", sa.Integer(), sa.ForeignKey("driver_records.id"),
                  nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("approved_by", sa.String(100), nullable=True),
        sa.Column("approved_at", WHEN, nullable=True),
        sa.Column("sent_at", WHEN, nullable=True),
        sa.Column("held_at", WHEN, nullable=True),
        sa.Column("corrected_at", WHEN, nullable=True),
        sa.Column("correction", sa.Text(), nullable=False, server_default=""),
        sa.UniqueConstraint("bulletin", "number", name="uq_bulletin_issues_number"),
    )
    op.create_table(
        "bulletin_entries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("issue_id", sa.Integer(), sa.ForeignKey("bulletin_issues.id"),
                  nullable=False, index=True),
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("items.id"), nullable=False),
        sa.Column("match_id", sa.Integer(), sa.ForeignKey("matches.id"), nullable=True),
        sa.Column("section", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("removed", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.UniqueConstraint("issue_id", "item_id", name="uq_bulletin_entries_item"),
    )


def downgrade() -> None:
    op.drop_table("bulletin_entries")
    op.drop_table("bulletin_issues")
    op.drop_column("librarians", "email")
