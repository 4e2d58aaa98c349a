"""PostgreSQL connections carry TCP keepalive and a user timeout (docs/deployment.md).

Without them a connection whose peer vanished without a reset would wait for the kernel's
TCP timeouts (hours idle, about 15 minutes on a retransmission) instead of failing into a
503 within a minute. Checked on a real connection: the parameters libpq actually used.
"""

from __future__ import annotations

from cardservice.db import PG_KEEPALIVE, Database


def test_postgresql_connections_use_keepalive_and_a_user_timeout(pg_url: str) -> None:
    db = Database(pg_url)
    try:
        with db.engine.connect() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            used = raw.info.get_parameters()
    finally:
        db.dispose()
    assert used["keepalives_idle"] == "30"
    assert used["keepalives_interval"] == "10"
    assert used["keepalives_count"] == "3"
    assert used["tcp_user_timeout"] == "30000"
    assert used.get("keepalives", "1") == "1"  # libpq's default; shown only when set apart
    assert used["connect_timeout"] == "5"
    assert PG_KEEPALIVE["keepalives_idle"] + PG_KEEPALIVE["keepalives_interval"] \
        * PG_KEEPALIVE["keepalives_count"] <= 60


def test_an_explicit_connect_arg_wins_over_the_default(pg_url: str) -> None:
    db = Database(pg_url, connect_args={"keepalives_idle": 7})
    try:
        with db.engine.connect() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            used = raw.info.get_parameters()
    finally:
        db.dispose()
    assert used["keepalives_idle"] == "7"
    assert used["tcp_user_timeout"] == "30000"
