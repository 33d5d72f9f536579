"""token signing keys (Ed25519, encrypted at rest) and the logout denylist

Revision ID: c4d1f0a8e5b7
Revises: 3d8f1c6b9a27
Create Date: 2026-11-30 04:30:00.000000

Two new tables; no existing table is touched, so every user, role and grant stays as it was. No key
is made here: the first login or key-set request makes it (service/signing_keys.py), race-safe
through the unique `generation`, because the migration job may not have KEY_ENCRYPTION_KEY.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4d1f0a8e5b7'
down_revision = '3d8f1c6b9a27'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('signing_keys',
    sa.Column('kid', sa.String(length=32), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('algorithm', sa.String(length=16), nullable=False),
    sa.Column('public_key', sa.Text(), nullable=False),
    sa.Column('private_key', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('activates_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('kid', name=op.f('pk_signing_keys')),
    sa.UniqueConstraint('generation', name=op.f('uq_signing_keys_generation'))
    )
    op.create_table('revoked_tokens',
    sa.Column('jti', sa.String(length=32), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('jti', name=op.f('pk_revoked_tokens'))
    )
    op.create_index(op.f('ix_revoked_tokens_expires_at'), 'revoked_tokens', ['expires_at'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_revoked_tokens_expires_at'), table_name='revoked_tokens')
    op.drop_table('revoked_tokens')
    op.drop_table('signing_keys')
