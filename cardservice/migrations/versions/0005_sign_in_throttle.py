"""Sign-in throttling per account and source; accounts are no longer locked for everyone.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from cardservice.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_throttle",
        sa.Column("account_key", sa.String(64), primary_key=True),
        sa.Column("source_key", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("blocked_until", UTCDateTime, nullable=True),
        sa.Column("last_attempt_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_sign_in_throttle_last_attempt_at", "sign_in_throttle",
                    ["last_attempt_at"])
    # Plain SQL: both SQLite (3.35+) and PostgreSQL drop a plain column in place, where a
    # batch operation would rebuild the users table under the API tokens' foreign keys.
    op.execute("ALTER TABLE users DROP COLUMN locked_until")


def downgrade() -> None:
    op.add_column("users", sa.Column("locked_until", UTCDateTime, nullable=True))
    op.drop_index("ix_sign_in_throttle_last_attempt_at", "sign_in_throttle")
    op.drop_table("sign_in_throttle")
