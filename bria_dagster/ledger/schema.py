"""The ``bria_requests`` table: one row per request the ledger knows of.

The table is created with ``metadata.create_all`` when missing. Changes to an existing table will
need migrations: that is where Alembic (already installed with Dagster) would come in, with this
module's ``metadata`` as its target.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from bria_dagster.ledger.entry import EntryState

TABLE_NAME = "bria_requests"

metadata = sa.MetaData()

_TIME: sa.Double[float] = sa.Double()
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

bria_requests = sa.Table(
    TABLE_NAME,
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("asset_key", sa.String(512), nullable=False),
    sa.Column("partition_key", sa.String(512), nullable=True),
    sa.Column("endpoint", sa.String(256), nullable=False),
    sa.Column("payload_hash", sa.String(64), nullable=False),
    sa.Column("forced_generation", sa.Integer(), nullable=False),
    sa.Column("request_summary", _JSON, nullable=False),
    sa.Column("request_id", sa.String(256), nullable=True),
    sa.Column("status_url", sa.Text(), nullable=True),
    sa.Column(
        "state",
        sa.Enum(
            EntryState,
            name="ck_bria_requests_state",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=lambda states: [state.value for state in states],
        ),
        nullable=False,
    ),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("poll_count", sa.Integer(), nullable=False),
    sa.Column("created_at", _TIME, nullable=False),
    sa.Column("submitted_at", _TIME, nullable=True),
    sa.Column("next_poll_at", _TIME, nullable=True),
    sa.Column("completed_at", _TIME, nullable=True),
    sa.Column("stored_at", _TIME, nullable=True),
    sa.Column("updated_at", _TIME, nullable=False),
    sa.Column("result", _JSON, nullable=True),
    sa.Column("result_url", sa.Text(), nullable=True),
    sa.Column("storage_uri", sa.Text(), nullable=True),
    sa.Column("sha256", sa.String(64), nullable=True),
    sa.Column("error_code", sa.String(64), nullable=True),
    sa.Column("error_message", sa.Text(), nullable=True),
    # True when a new POST for this row is allowed: the failure provably billed nothing, or an
    # operator called Ledger.retry. The next begin_submit then re-arms the row.
    sa.Column("retryable", sa.Boolean(), nullable=False),
    # Earlier attempts of a re-armed row: request_id, state, error, times.
    sa.Column("history", _JSON, nullable=False),
    sa.Column("run_id", sa.String(256), nullable=True),
    sa.Column("reported", sa.Boolean(), nullable=False),
    sa.Column("lease_owner", sa.String(256), nullable=True),
    sa.Column("lease_until", _TIME, nullable=True),
)

# One row per (asset, partition, payload, generation). A NULL partition_key is stored as is and
# indexed as '' (unique constraints treat NULLs as distinct); the ledger refuses '' as a key.
# Queries must spell the expression exactly like this to use the index.
partition_key_expr = sa.func.coalesce(bria_requests.c.partition_key, sa.literal_column("''"))

sa.Index(
    "uq_bria_requests_lookup",
    bria_requests.c.asset_key,
    partition_key_expr,
    bria_requests.c.payload_hash,
    bria_requests.c.forced_generation,
    unique=True,
)
# NULLs are distinct in unique indexes on both SQLite and PostgreSQL: unique when set.
sa.Index("uq_bria_requests_request_id", bria_requests.c.request_id, unique=True)
sa.Index("ix_bria_requests_due", bria_requests.c.state, bria_requests.c.next_poll_at)

# One row per POST that may have been billed: written in the transaction that turns a request
# row into ``submitting`` (``bria_dagster.ledger.caps``), deleted again when the POST provably
# did not leave. Spend caps count these rows; ``bria-ledger spend`` sums them.
bria_spend = sa.Table(
    "bria_spend",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("scope", sa.String(256), nullable=False),
    sa.Column("entry_id", sa.BigInteger(), nullable=False),
    sa.Column("attempt", sa.Integer(), nullable=False),
    sa.Column("asset_key", sa.String(512), nullable=False),
    sa.Column("partition_key", sa.String(512), nullable=True),
    sa.Column("endpoint", sa.String(256), nullable=False),
    sa.Column("run_id", sa.String(256), nullable=True),
    sa.Column("sent_at", _TIME, nullable=False),
)
sa.Index("ix_bria_spend_scope_time", bria_spend.c.scope, bria_spend.c.sent_at)
sa.Index("ix_bria_spend_run", bria_spend.c.run_id)
sa.Index("ix_bria_spend_entry", bria_spend.c.entry_id, bria_spend.c.attempt)
