"""The only place the program reads `pulumi.Config`: this stack's config, validated before any resource."""

from __future__ import annotations

import pulumi

from components.contract import PROJECT
from components.settings.declared import defaults
from components.settings.model import Settings
from components.settings.parse import parse_settings


def load_settings() -> Settings:
    """Read this stack's config (project defaults already merged in by the CLI) and validate it."""
    prefix = f"{PROJECT}:"
    # Every project key the stack sets, so a misspelt key is reported instead of silently ignored.
    present = {key for key in pulumi.runtime.config.CONFIG.get() if key.startswith(prefix)}
    present |= {key for key in pulumi.runtime.config.get_config_env() if key.startswith(prefix)}
    config = pulumi.Config(PROJECT)
    keys = {key.removeprefix(prefix) for key in present} | set(defaults())
    values = {key: config.get(key) for key in keys}
    secret_keys = {key for key in keys if pulumi.runtime.config.is_config_secret(config.full_key(key))}
    return parse_settings(pulumi.get_stack(), values, secret_keys)
