"""What polling keeps about the pages behind a source (issue 16).

``sources.child_validators``: a sitemap index's child sitemaps, each with the ETag and
Last-Modified it last answered with ({url: [etag, last_modified]}), so that each child is
asked for conditionally on its own; only the children the latest index listed are kept.

``driver_site_pages``: for each driver record a MAP-toolkit archive (a ``drivers`` source)
has listed, its own page on the site, which source listed it last and when, and when that
page was last asked for while the record was off the listing. ``driver_records.gone_at``:
since when the record's own page answers 404 or 410 — the record is flagged, never deleted
(docs/driver-records.md, "A record gone from the site").

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


# Columns are added in place, as in 0011 and 0014: other tables' foreign keys point at these.


def upgrade() -> None:
    op.add_column("sources", sa.Column("child_validators", sa.JSON(), nullable=True))
    op.add_column("driver_records", sa.Column("gone_at", WHEN, nullable=True))
    op.create_table(
        "driver_site_pages",
        sa.Column("driver_id", sa.Integer(), sa.ForeignKey("driver_records.id"),
                  nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("listed_at", WHEN, nullable=False),
        sa.Column("checked_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("driver_id"),
    )
    op.create_index("ix_driver_site_pages_source_id", "driver_site_pages", ["source_id"])


def downgrade() -> None:
    op.drop_index("ix_driver_site_pages_source_id", table_name="driver_site_pages")
    op.drop_table("driver_site_pages")
    op.drop_column("driver_records", "gone_at")
    op.drop_column("sources", "child_validators")
