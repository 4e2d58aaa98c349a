"""Indexes for a register of a million residents (issue #15).

Each serves a query that otherwise read a whole table (``bench/bench_scale.py``):

* ``ix_residents_last_card_expiry`` and ``ix_residents_cardless``: residents past
  retention (``purge``, ``purge --dry-run``), by their last card's expiry or, never given
  a card, by their registration; live rows only (plain columns: SQLite reflects no
  expression index).
* ``ix_cards_issued_at``: the cards issued in a period (batch printing).
* ``ix_cards_unprinted``: the same, for the cards not printed yet (the clerk's usual list),
  in the list's order and with the status it filters on: it holds only unprinted cards,
  so it stays small however many cards were issued, and the page needs no sort.
* ``ix_renewal_requests_queue``: the clerks' queue, pending requests oldest first, a page
  at a time without sorting every pending request.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# The literal conditions of the unprinted list (``services.cards``): the index holds the
# rows the list reads, in its order, with the status it filters on, so the list's count is
# read from the index alone.
UNPRINTED = "printed_at IS NULL AND print_data IS NOT NULL"


def upgrade() -> None:
    op.create_index("ix_residents_last_card_expiry", "residents", ["last_card_expires_at"],
                    postgresql_where=sa.text("purged_at IS NULL"),
                    sqlite_where=sa.text("purged_at IS NULL"))
    op.create_index("ix_residents_cardless", "residents", ["created_at"],
                    postgresql_where=sa.text("last_card_expires_at IS NULL AND purged_at IS NULL"),
                    sqlite_where=sa.text("last_card_expires_at IS NULL AND purged_at IS NULL"))
    op.create_index("ix_cards_issued_at", "cards", ["issued_at"])
    op.create_index("ix_cards_unprinted", "cards", ["issued_at", "serial", "status"],
                    postgresql_where=sa.text(UNPRINTED),
                    sqlite_where=sa.text(UNPRINTED))
    op.create_index("ix_renewal_requests_queue", "renewal_requests",
                    ["status", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_renewal_requests_queue", table_name="renewal_requests")
    op.drop_index("ix_cards_unprinted", table_name="cards")
    op.drop_index("ix_cards_issued_at", table_name="cards")
    op.drop_index("ix_residents_cardless", table_name="residents")
    op.drop_index("ix_residents_last_card_expiry", table_name="residents")
