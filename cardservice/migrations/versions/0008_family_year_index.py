"""Find residents by family name and birth year: a second blind index.

Existing rows get NULL here (the migration has no keys to compute a keyed hash);
``cardservice residents reindex`` fills them in. Until then those residents are found
by card number or by name and date of birth, not by family name and year.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # add_column with a nullable column is a plain ALTER TABLE on SQLite too: no batch
    # copy of the residents table (which cards refer to) is needed.
    op.add_column("residents", sa.Column("family_year_index", sa.String(64), nullable=True))
    op.create_index("ix_residents_family_year_index", "residents", ["family_year_index"])


def downgrade() -> None:
    op.drop_index("ix_residents_family_year_index", table_name="residents")
    op.drop_column("residents", "family_year_index")
