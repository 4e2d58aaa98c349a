"""Residents' renewal and replacement requests.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from cardservice.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "renewal_requests",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("serial", sa.String(16), sa.ForeignKey("cards.serial"), nullable=False,
                  index=True),
        sa.Column("resident_id", sa.String(32), sa.ForeignKey("residents.id"), nullable=False,
                  index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("changes", sa.LargeBinary, nullable=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("created_at", UTCDateTime, nullable=False, index=True),
        sa.Column("decided_at", UTCDateTime, nullable=True),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("reject_reason", sa.String(500), nullable=True),
        sa.Column("new_serial", sa.String(16), nullable=True),
        sa.Column("locale", sa.String(8), nullable=True),
        sa.CheckConstraint("kind IN ('renew', 'lost', 'stolen', 'damaged', 'change')",
                           name="ck_renewal_kind"),
        sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')",
                           name="ck_renewal_status"),
    )


def downgrade() -> None:
    op.drop_table("renewal_requests")
