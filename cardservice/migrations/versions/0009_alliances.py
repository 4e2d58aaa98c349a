"""Alliances: member lists held, their members' trust data, drafts, known roots (#16).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

from cardservice.models import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alliances",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("alliance_id", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("state", sa.LargeBinary, nullable=False),
        sa.Column("joined_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("last_sync_at", UTCDateTime, nullable=True),
        sa.Column("last_sync_result", sa.String(500), nullable=True),
    )
    op.create_table(
        "alliance_members",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("alliance_id", sa.String(64), nullable=False, index=True),
        sa.Column("city_id", sa.String(8), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("base_url", sa.String(2048), nullable=False),
        sa.Column("listed_fingerprint", sa.String(80), nullable=False),
        sa.Column("fingerprint", sa.String(80), nullable=True),
        sa.Column("state", sa.LargeBinary, nullable=True),
        sa.Column("suspended", sa.Boolean, nullable=False),
        sa.Column("last_sync_at", UTCDateTime, nullable=True),
        sa.Column("last_sync_ok_at", UTCDateTime, nullable=True),
        sa.Column("last_sync_result", sa.String(500), nullable=True),
    )
    op.create_index("ux_alliance_member", "alliance_members", ["alliance_id", "city_id"],
                    unique=True)
    op.create_table(
        "alliance_drafts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("alliance_id", sa.String(64), nullable=False, index=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.CheckConstraint("status IN ('pending', 'published', 'superseded')",
                           name="ck_alliance_draft_status"),
    )
    op.create_index("ux_alliance_draft", "alliance_drafts", ["alliance_id", "digest"],
                    unique=True)
    op.create_table(
        "known_roots",
        sa.Column("fingerprint", sa.String(80), primary_key=True),
        sa.Column("city_id", sa.String(8), nullable=False),
        sa.Column("der", sa.LargeBinary, nullable=False),
        sa.Column("added_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("known_roots")
    op.drop_index("ux_alliance_draft", table_name="alliance_drafts")
    op.drop_table("alliance_drafts")
    op.drop_index("ux_alliance_member", table_name="alliance_members")
    op.drop_table("alliance_members")
    op.drop_table("alliances")
