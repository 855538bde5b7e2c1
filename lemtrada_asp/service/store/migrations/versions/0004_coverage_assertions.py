"""CRD's coverage assertions, and PAS requests' links to them (issue 26).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    now = sa.DateTime()
    op.create_table(
        "coverage_assertions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("hook", sa.String(32), nullable=False),
        sa.Column("hook_instance", sa.String(128), nullable=False),
        sa.Column("order_ref", sa.String(200)),
        sa.Column("patient", sa.String(200)),
        sa.Column("client", sa.String(200)),
        sa.Column("covered", sa.String(16), nullable=False),
        sa.Column("pa_needed", sa.String(16)),
        sa.Column("doc_needed", sa.String(16)),
        sa.Column("decision", sa.String(32), nullable=False),
        sa.Column("missing", sa.Text, nullable=False),
        sa.Column("failing", sa.Text, nullable=False),
        sa.Column("case", sa.Text, nullable=False),
        sa.Column("kb_version", sa.String(100), nullable=False),
        sa.Column("created_at", now, nullable=False),
    )
    op.create_table(
        "coverage_links",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(36), sa.ForeignKey("requests.id"), nullable=False, index=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("value", sa.String(128), nullable=False, index=True),
        sa.Column("created_at", now, nullable=False),
        sa.UniqueConstraint("request_id", "kind", "value", name="uq_coverage_link"),
    )


def downgrade() -> None:
    for table in ("coverage_links", "coverage_assertions"):
        op.drop_table(table)
