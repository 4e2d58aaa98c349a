"""Published trust documents, partner cities, recognition requests.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from cardservice.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "published_documents",
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("version", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("issued_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "partners",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("city_id", sa.String(8), nullable=False, unique=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("base_url", sa.String(2048), nullable=False),
        sa.Column("fingerprint", sa.String(80), nullable=False),
        sa.Column("state", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("added_at", UTCDateTime, nullable=False),
        sa.Column("last_sync_at", UTCDateTime, nullable=True),
        sa.Column("last_sync_ok_at", UTCDateTime, nullable=True),
        sa.Column("last_sync_result", sa.String(500), nullable=True),
        sa.CheckConstraint("status IN ('active', 'suspended')", name="ck_partner_status"),
    )
    op.create_table(
        "recognition_requests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("city_id", sa.String(8), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("base_url", sa.String(2048), nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("recognition_requests")
    op.drop_table("partners")
    op.drop_table("published_documents")
