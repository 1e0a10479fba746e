"""audit chain sealed off the request path: seq, nullable chain fields, checkpoints, lease

Revision ID: 0003_audit_seal
Revises: 0002_tokens
Create Date: 2026-12-02 13:00:00

"""
from alembic import op
import sqlalchemy as sa

import idp.models._base


# revision identifiers, used by Alembic.
revision = "0003_audit_seal"
down_revision = "0002_tokens"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=True)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=True)
    # Every existing event was chained under the old lock, in id order: number it so.
    op.execute(
        "UPDATE audit_events SET seq = "
        "(SELECT count(*) FROM audit_events AS earlier WHERE earlier.id <= audit_events.id)"
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f("uq_audit_events_seq"), ["seq"])

    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", idp.models._base.UTCDateTime(), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
    )
    with op.batch_alter_table("audit_checkpoints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_checkpoints_seq"), ["seq"], unique=False)
    op.create_table(
        "audit_sealer_lease",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("expires_at", idp.models._base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_sealer_lease")),
    )


def downgrade():
    unsealed = op.get_bind().execute(
        sa.text("SELECT count(*) FROM audit_events WHERE hash IS NULL")
    ).scalar()
    if unsealed:
        raise RuntimeError(
            f"{unsealed} audit events are not sealed yet: run `idp audit seal` before "
            "downgrading, or they would be lost."
        )
    op.drop_table("audit_sealer_lease")
    with op.batch_alter_table("audit_checkpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_checkpoints_seq"))
    op.drop_table("audit_checkpoints")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_audit_events_seq"), type_="unique")
        batch_op.drop_column("seq")
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
