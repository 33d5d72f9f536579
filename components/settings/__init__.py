"""All stack settings, read from Pulumi config once and validated before any resource exists.

- declared.py: the keys and defaults, read from Pulumi.yaml's `config:` block (the one source);
- model.py: the frozen values the components get (`Settings` and its parts);
- rules.py: allowed values and small checks; parse.py / parse_targets.py: strings -> `Settings`;
- load.py: `load_settings`, the only reader of `pulumi.Config`.
"""

from components.settings.declared import declared_settings, defaults
from components.settings.load import load_settings
from components.settings.model import (
    AppEnv,
    DockerSettings,
    ImageSettings,
    IngressSettings,
    KubernetesSettings,
    NetworkPolicySettings,
    Secrets,
    Settings,
    SettingsError,
    Target,
)
from components.settings.parse import parse_settings
from components.settings.rules import SECRET_KEYS, TARGETS

__all__ = [
    "SECRET_KEYS",
    "TARGETS",
    "AppEnv",
    "DockerSettings",
    "ImageSettings",
    "IngressSettings",
    "KubernetesSettings",
    "NetworkPolicySettings",
    "Secrets",
    "Settings",
    "SettingsError",
    "Target",
    "declared_settings",
    "defaults",
    "load_settings",
    "parse_settings",
]
