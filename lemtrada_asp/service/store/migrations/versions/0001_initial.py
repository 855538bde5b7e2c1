"""The first schema: requests, answers, authorisations, state changes, subscriptions, notifications, deliveries.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    now = sa.DateTime()
    op.create_table(
        "requests",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("identifier_key", sa.String(512), unique=True),
        sa.Column("tracking_id", sa.String(64), nullable=False, unique=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("replaces_id", sa.String(36), sa.ForeignKey("requests.id")),
        sa.Column("replaced_by_id", sa.String(36)),
        sa.Column("provider_ids", sa.Text, nullable=False),
        sa.Column("bundle", sa.Text, nullable=False),
        sa.Column("case", sa.Text),
        sa.Column("received_at", now, nullable=False),
        sa.Column("updated_at", now, nullable=False),
    )
    op.create_table(
        "answers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(36), sa.ForeignKey("requests.id"), nullable=False, index=True),
        sa.Column("claim_response_id", sa.String(64), nullable=False, unique=True),
        sa.Column("decision", sa.Text),
        sa.Column("bundle", sa.Text, nullable=False),
        sa.Column("created_at", now, nullable=False),
    )
    op.create_table(
        "authorisations",
        sa.Column("pre_auth_ref", sa.String(128), primary_key=True),
        sa.Column("request_id", sa.String(36), sa.ForeignKey("requests.id"), nullable=False, index=True),
        sa.Column("item_sequence", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("period_start", sa.String(10)),
        sa.Column("period_end", sa.String(10)),
        sa.Column("quantity", sa.String(32)),
        sa.Column("created_at", now, nullable=False),
        sa.Column("changed_at", now),
        sa.UniqueConstraint("request_id", "item_sequence", name="uq_authorisation_line"),
    )
    op.create_table(
        "state_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(36), sa.ForeignKey("requests.id"), nullable=False, index=True),
        sa.Column("from_state", sa.String(16), nullable=False),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("at", now, nullable=False),
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("endpoint", sa.Text, nullable=False),
        sa.Column("content", sa.String(16), nullable=False),
        sa.Column("headers", sa.Text, nullable=False),
        sa.Column("filters", sa.Text, nullable=False),
        sa.Column("events", sa.Integer, nullable=False),
        sa.Column("resource", sa.Text, nullable=False),
        sa.Column("created_at", now, nullable=False),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("subscription_id", sa.String(36), sa.ForeignKey("subscriptions.id"), nullable=False, index=True),
        sa.Column("state_change_id", sa.Integer, sa.ForeignKey("state_changes.id"), nullable=False),
        sa.Column("event_number", sa.Integer, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", now, nullable=False),
    )
    op.create_index("ix_notifications_status", "notifications", ["status"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("notification_id", sa.Integer, sa.ForeignKey("notifications.id"), nullable=False, index=True),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("at", now, nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("ok", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    for table in ("deliveries", "notifications", "subscriptions", "state_changes", "authorisations", "answers", "requests"):
        op.drop_table(table)
