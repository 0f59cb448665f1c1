"""Merge the branches written in parallel for subscribers, topics, sources and drivers.

Revision ID: 0006
Revises: 0002_people, 0003_topics, 0004_sources, 0005_drivers
Create Date: 2026-11-26
"""

revision = "0006"
down_revision = ("0002_people", "0003_topics", "0004_sources", "0005_drivers")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
