"""clients.pkce_required: PKCE required unless a client is registered otherwise

Revision ID: 0002_tokens
Revises: 0002_auth
Create Date: 2026-12-02 06:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0002_tokens"
down_revision = "0002_auth"
branch_labels = None
depends_on = None


def upgrade():
    # RFC 9700 §2.1.1: existing clients, confidential ones included, now require PKCE.
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pkce_required", sa.Boolean(), nullable=False,
                                      server_default=sa.true()))


def downgrade():
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_column("pkce_required")
