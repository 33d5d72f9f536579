"""users and roles lifecycle: soft delete, display name, forced password change, service accounts,
role descriptions, registered permissions and the permissions of the new endpoints

Revision ID: 3d8f1c6b9a27
Revises: 04a999638a43
Create Date: 2026-11-30 04:15:00.000000

Only columns and rows are added (as in 0002, no table is rebuilt: on SQLite a rebuild of `users`
would cascade into `user_roles`). Every existing user and role is kept as it was; the role named
`admin` gets the new permissions, so the first administrator can use the new endpoints.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3d8f1c6b9a27'
down_revision = '04a999638a43'
branch_labels = None
depends_on = None

# service.models.PERMISSIONS added at this revision, written out: a migration must not change when
# the code does.
NEW_PERMISSIONS = {
    'users:update': "change a user's display name, disable or enable it",
    'users:delete': 'delete users',
    'users:reset-password': 'set a temporary password a user must change at the next login',
    'users:introspect': 'ask whether any user holds a permission, without that user\'s token',
    'roles:read': 'list and read roles',
    'roles:update': 'rename roles and change their permissions',
    'roles:delete': 'delete roles',
    'roles:revoke': 'revoke roles from users',
    'permissions:read': 'list permissions',
    'permissions:register': 'register the permissions of another service',
    'service-accounts:manage': 'create service accounts and replace their secrets',
}
ADMIN_ROLE = 'admin'


def upgrade():
    op.add_column('users', sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('users', sa.Column('display_name', sa.String(length=128), nullable=False, server_default=''))
    op.add_column('users', sa.Column('must_change_password', sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.add_column('users', sa.Column('kind', sa.String(length=16), nullable=False, server_default='user'))
    op.add_column('roles', sa.Column('description', sa.String(length=255), nullable=False, server_default=''))
    op.add_column('permissions', sa.Column('owner_id', sa.Integer(), nullable=True))

    connection = op.get_bind()
    permissions = sa.table('permissions', sa.column('id', sa.Integer), sa.column('name', sa.String),
                           sa.column('description', sa.String))
    roles = sa.table('roles', sa.column('id', sa.Integer), sa.column('name', sa.String))
    role_permissions = sa.table('role_permissions', sa.column('role_id', sa.Integer),
                                sa.column('permission_id', sa.Integer))
    existing = set(connection.execute(sa.select(permissions.c.name)).scalars())
    op.bulk_insert(permissions, [
        {'name': name, 'description': description}
        for name, description in NEW_PERMISSIONS.items() if name not in existing
    ])
    admin_id = connection.execute(sa.select(roles.c.id).where(roles.c.name == ADMIN_ROLE)).scalar()
    if admin_id is not None:
        held = set(connection.execute(
            sa.select(role_permissions.c.permission_id).where(role_permissions.c.role_id == admin_id)
        ).scalars())
        new_ids = connection.execute(
            sa.select(permissions.c.id).where(permissions.c.name.in_(list(NEW_PERMISSIONS)))
        ).scalars()
        rows = [{'role_id': admin_id, 'permission_id': pid} for pid in new_ids if pid not in held]
        if rows:
            op.bulk_insert(role_permissions, rows)


def downgrade():
    connection = op.get_bind()
    permissions = sa.table('permissions', sa.column('name', sa.String), sa.column('owner_id', sa.Integer))
    # role_permissions rows go with them (ON DELETE CASCADE); so do registered permissions, which
    # the older schema cannot tell apart from the service's own.
    connection.execute(permissions.delete().where(
        permissions.c.name.in_(list(NEW_PERMISSIONS)) | permissions.c.owner_id.is_not(None)
    ))
    # Service accounts and deleted users cannot be told apart from people below this revision:
    # they are removed rather than turned into users who could log in.
    users = sa.table('users', sa.column('kind', sa.String), sa.column('deleted_at', sa.DateTime))
    connection.execute(users.delete().where((users.c.kind != 'user') | users.c.deleted_at.is_not(None)))
    # Plain DROP COLUMN (SQLite >= 3.35), no batch rebuild: see 0002.
    op.execute('ALTER TABLE permissions DROP COLUMN owner_id')
    op.execute('ALTER TABLE roles DROP COLUMN description')
    for column in ('kind', 'must_change_password', 'display_name', 'deleted_at'):
        op.execute(f'ALTER TABLE users DROP COLUMN {column}')
