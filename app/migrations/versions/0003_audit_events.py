"""audit trail: table audit_events, permission audit:read (granted to role admin)

Revision ID: 04a999638a43
Revises: 7c3e9a5d21f4
Create Date: 2026-11-30 04:10:00.000000

Only a table and rows are added; nothing existing is rebuilt or changed. Role `admin` gets the new
permission where it exists: an admin could not grant it otherwise (a grant needs the permissions it
hands out), and `flask create-admin` refuses an existing user.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '04a999638a43'
down_revision = '7c3e9a5d21f4'
branch_labels = None
depends_on = None

PERMISSION = 'audit:read'
DESCRIPTION = 'read the audit trail'

permissions = sa.table('permissions', sa.column('id', sa.Integer), sa.column('name', sa.String),
                       sa.column('description', sa.String))
roles = sa.table('roles', sa.column('id', sa.Integer), sa.column('name', sa.String))
role_permissions = sa.table('role_permissions', sa.column('role_id', sa.Integer),
                            sa.column('permission_id', sa.Integer))


def upgrade():
    op.create_table('audit_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('actor_type', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_name', sa.String(length=128), nullable=True),
    sa.Column('target_type', sa.String(length=32), nullable=True),
    sa.Column('target_id', sa.String(length=64), nullable=True),
    sa.Column('target_name', sa.String(length=128), nullable=True),
    sa.Column('client_address', sa.String(length=64), nullable=True),
    sa.Column('request_id', sa.String(length=128), nullable=True),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    op.create_index(op.f('ix_audit_events_occurred_at'), 'audit_events', ['occurred_at'], unique=False)
    op.create_index(op.f('ix_audit_events_action'), 'audit_events', ['action'], unique=False)
    op.create_index(op.f('ix_audit_events_actor_id'), 'audit_events', ['actor_id'], unique=False)
    op.create_index(op.f('ix_audit_events_request_id'), 'audit_events', ['request_id'], unique=False)
    op.create_index('ix_audit_events_target', 'audit_events', ['target_type', 'target_id'], unique=False)

    connection = op.get_bind()
    exists = connection.execute(sa.select(permissions.c.id).where(permissions.c.name == PERMISSION)).first()
    if exists is None:
        op.bulk_insert(permissions, [{'name': PERMISSION, 'description': DESCRIPTION}])
    connection.execute(
        role_permissions.insert().from_select(
            ['role_id', 'permission_id'],
            sa.select(roles.c.id, permissions.c.id)
            .select_from(roles.join(permissions, sa.true()))  # one row: role admin x audit:read
            .where(roles.c.name == 'admin', permissions.c.name == PERMISSION)
            .where(~sa.exists().where(role_permissions.c.role_id == roles.c.id,
                                      role_permissions.c.permission_id == permissions.c.id)),
        )
    )


def downgrade():
    connection = op.get_bind()
    audit_read = sa.select(permissions.c.id).where(permissions.c.name == PERMISSION).scalar_subquery()
    connection.execute(role_permissions.delete().where(role_permissions.c.permission_id == audit_read))
    connection.execute(permissions.delete().where(permissions.c.name == PERMISSION))
    op.drop_index('ix_audit_events_target', table_name='audit_events')
    op.drop_index(op.f('ix_audit_events_request_id'), table_name='audit_events')
    op.drop_index(op.f('ix_audit_events_actor_id'), table_name='audit_events')
    op.drop_index(op.f('ix_audit_events_action'), table_name='audit_events')
    op.drop_index(op.f('ix_audit_events_occurred_at'), table_name='audit_events')
    op.drop_table('audit_events')
