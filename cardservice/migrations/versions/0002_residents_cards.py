"""Residents (ciphertext only), cards, counters and verification counts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from cardservice.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "residents",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary, nullable=True),
        sa.Column("record", sa.LargeBinary, nullable=True),
        sa.Column("photo", sa.LargeBinary, nullable=True),
        sa.Column("blind_index", sa.String(64), nullable=True, index=True),
        sa.Column("last_card_expires_at", UTCDateTime, nullable=True),
        sa.Column("purged_at", UTCDateTime, nullable=True),
    )
    op.create_table(
        "cards",
        sa.Column("serial", sa.String(16), primary_key=True),
        sa.Column("resident_id", sa.String(32), sa.ForeignKey("residents.id"), nullable=False,
                  index=True),
        sa.Column("issued_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
        sa.Column("revocation_reason", sa.String(16), nullable=True),
        sa.Column("superseded_by", sa.String(16), nullable=True),
        sa.Column("kid", sa.String(16), nullable=False),
        sa.Column("renewal_code_hash", sa.String(255), nullable=True),
        sa.Column("print_data", sa.LargeBinary, nullable=True),
        sa.Column("printed_at", UTCDateTime, nullable=True),
        sa.CheckConstraint("status IN ('active', 'superseded', 'revoked')",
                           name="ck_cards_status"),
    )
    op.create_index("ix_cards_status_revoked", "cards", ["status", "expires_at"])
    op.create_table(
        "counters",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "verification_counts",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("status", sa.String(24), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("verification_counts")
    op.drop_table("counters")
    op.drop_index("ix_cards_status_revoked", "cards")
    op.drop_table("cards")
    op.drop_table("residents")
