"""driver records: status, member, parsed dates, the edit history, stewardship mails

Revision ID: 0005_drivers
Revises: 0001
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_drivers"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Server defaults fill the rows that exist already; new rows get theirs from the models.
    with op.batch_alter_table("driver_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=20), nullable=False,
                                      server_default="active"))
        batch_op.add_column(sa.Column("member", sa.String(length=20), nullable=False,
                                      server_default=""))
        batch_op.add_column(sa.Column("published_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("review_due_on", sa.Date(), nullable=True))
        batch_op.create_index(batch_op.f("ix_driver_records_member"), ["member"], unique=False)

    op.create_table(
        "driver_record_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("driver_id", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["driver_id"], ["driver_records.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("driver_record_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_driver_record_versions_driver_id"), ["driver_id"],
                              unique=False)

    op.create_table(
        "stewardship_mails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member", sa.String(length=20), nullable=False),
        sa.Column("week", sa.String(length=10), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("member", "week", name="uq_stewardship_mails_member_week"),
    )


def downgrade() -> None:
    op.drop_table("stewardship_mails")
    with op.batch_alter_table("driver_record_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_driver_record_versions_driver_id"))
    op.drop_table("driver_record_versions")
    with op.batch_alter_table("driver_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_driver_records_member"))
        batch_op.drop_column("review_due_on")
        batch_op.drop_column("published_on")
        batch_op.drop_column("member")
        batch_op.drop_column("status")
