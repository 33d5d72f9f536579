"""token version, disabled users, case-insensitive usernames, login throttle

Revision ID: 7c3e9a5d21f4
Revises: fa2b6257aa1b
Create Date: 2026-11-30 01:40:00.000000

No table is rebuilt: on SQLite a rebuild drops `users`, and with foreign keys on that drop would
cascade into `user_roles` and take every grant with it. Only columns, indexes and a table are added.
"""
import logging
import secrets

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7c3e9a5d21f4'
down_revision = 'fa2b6257aa1b'
branch_labels = None
depends_on = None

log = logging.getLogger('alembic.runtime.migration')


def upgrade():
    op.add_column('users', sa.Column('username_key', sa.String(length=64), nullable=True))
    # NOT NULL needs a default to be added to existing rows; '' is never a valid token version,
    # and every row gets a random one just below.
    op.add_column('users', sa.Column('token_version', sa.String(length=32), nullable=False, server_default=''))
    op.add_column('users', sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True))

    connection = op.get_bind()
    users = sa.table('users', sa.column('id', sa.Integer), sa.column('username', sa.String),
                     sa.column('username_key', sa.String), sa.column('token_version', sa.String))
    seen = {}
    for user_id, username in connection.execute(sa.select(users.c.id, users.c.username).order_by(users.c.id)):
        key = username.lower()
        if key in seen:
            # Made before names were compared without case: kept, and it can still log in, but its
            # name no longer blocks anything; the first one (lowest id) holds the name.
            log.warning('user %r (id %s) differs from user %r only in case; keeping both', username, user_id,
                        seen[key])
            key = None
        else:
            seen[key] = username
        connection.execute(
            users.update().where(users.c.id == user_id)
            .values(username_key=key, token_version=secrets.token_hex(16))
        )
    op.create_index(op.f('ix_users_username_key'), 'users', ['username_key'], unique=True)

    op.create_table('login_throttle',
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure', sa.Float(), nullable=False),
    sa.Column('locked_until', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_login_throttle'))
    )
    op.create_index(op.f('ix_login_throttle_last_failure'), 'login_throttle', ['last_failure'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_login_throttle_last_failure'), table_name='login_throttle')
    op.drop_table('login_throttle')
    op.drop_index(op.f('ix_users_username_key'), table_name='users')
    # Plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35 has it): batch mode would rebuild `users`,
    # and the rebuild's DROP TABLE would cascade into user_roles.
    for column in ('disabled_at', 'token_version', 'username_key'):
        op.execute(f'ALTER TABLE users DROP COLUMN {column}')
