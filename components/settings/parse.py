"""Raw config strings -> validated `Settings`: pure (plain strings in, a frozen `Settings` out), so every
rule is unit-testable; `load.py` is the thin reader the program calls.

Every bad key is reported in ONE `SettingsError`, one line per key, naming the key, the value and
what is allowed. Secret values are never echoed, only described. A key missing from `values` takes
Pulumi.yaml's default (declared.py), as the CLI would hand it over.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import pulumi

from components.contract import LOG_LEVELS
from components.settings.declared import defaults

# key_strength.py is a link to app/service/secret_key.py: one rule for the program and the service.
from components.settings.key_strength import MIN_LENGTH, WeakKey, check_strength
from components.settings.model import ImageSettings, Secrets, Settings, SettingsError
from components.settings.parse_targets import docker_settings, kubernetes_settings
from components.settings.rules import (
    BUILD_STAGE,
    DATABASE_SCHEMES,
    DIGEST,
    DOCKER_HOST_SCHEMES,
    LOCAL_DOCKER_SCHEMES,
    PLATFORM,
    REGISTRY_HOST,
    REPOSITORY,
    RUNTIME_ENVS,
    SECRET_KEYS,
    TARGETS,
    Raw,
    describe_secret,
    int_in_range,
    one_of,
    public_url,
    registry_host,
    repository_path,
)


def parse_settings(stack: str, values: Mapping[str, str | None], secret_keys: Collection[str]) -> Settings:
    """Validate raw config values (as the Pulumi CLI passes them: strings) into `Settings`.

    `values` maps un-namespaced keys to strings (missing or None means "use the default");
    `secret_keys` lists the keys the stack stores encrypted. Raises `SettingsError` listing
    every bad key.
    """
    problems: list[str] = []
    known = defaults()  # Pulumi.yaml's keys and defaults
    for key in sorted(set(values) - set(known)):
        problems.append(f"{key} is not a setting of this program: allowed keys are {', '.join(known)}")

    def raw(key: str) -> str:
        value = values.get(key)
        return known[key] if value is None else value

    target = one_of(problems, "target", raw("target"), TARGETS)
    runtime_env = _runtime_env(problems, raw, stack)
    log_level = one_of(problems, "logLevel", raw("logLevel"), LOG_LEVELS)
    graceful_timeout = int_in_range(problems, "gracefulTimeout", raw("gracefulTimeout"), 1, 600)
    # The service's own bounds (app/service/config.py, AUDIT_RETENTION_DAYS_MAX).
    audit_retention_days = int_in_range(problems, "auditRetentionDays", raw("auditRetentionDays"), 1, 3650)
    # The service's own rule (app/service/config.py, public_url), kept consistent by a test.
    public = public_url(problems, "publicUrl", raw("publicUrl"))
    secret_values = _secret_values(problems, raw, secret_keys, target, runtime_env)
    image = _image_settings(problems, raw, stack, target, secret_values)
    docker = docker_settings(problems, raw, stack, runtime_env)
    kubernetes = kubernetes_settings(problems, raw, target, graceful_timeout, secret_values["databaseUrl"])
    if problems:
        raise SettingsError(stack, problems)
    ingress = kubernetes.ingress
    if not public and target == "kubernetes" and ingress is not None and ingress.tls_secret:
        # Behind a TLS-terminating Ingress the pods see plain HTTP from the controller, so discovery URLs
        # built from the request would say http://; the Ingress names the one origin clients use.
        public = f"https://{ingress.host}"

    def secret(key: str) -> pulumi.Output[str] | None:
        # What Config.get_secret returns: the value wrapped as a Pulumi secret.
        return pulumi.Output.secret(secret_values[key]) if secret_values[key] else None

    return Settings(
        stack=stack,
        target=target,  # type: ignore[arg-type]  # checked against TARGETS above
        runtime_env=runtime_env,
        log_level=log_level,
        graceful_timeout=graceful_timeout,
        audit_retention_days=audit_retention_days,
        public_url=public,
        image=image,
        docker=docker,
        kubernetes=kubernetes,
        secrets=Secrets(
            database_url=secret("databaseUrl"),
            secret_key=secret("secretKey"),
            registry_password=secret("registryPassword"),
            key_encryption_key=secret("keyEncryptionKey"),
        ),
    )


def _runtime_env(problems: list[str], raw: Raw, stack: str) -> str:
    """RUNTIME_ENV: the stack name unless set, and only test or prod, as the old script allowed."""
    runtime_env = raw("runtimeEnv") or stack
    if runtime_env not in RUNTIME_ENVS:
        source = "runtimeEnv" if raw("runtimeEnv") else "the stack name"
        problems.append(
            f"runtimeEnv = {runtime_env!r} (from {source}) is not allowed: the runtime environment must be "
            "'test' or 'prod', as in `bash online.sh test` or `bash online.sh prod`; deploy the stack "
            "`test` or `prod`, or set `pulumi config set runtimeEnv test|prod`"
        )
    return runtime_env


def _secret_values(
    problems: list[str], raw: Raw, secret_keys: Collection[str], target: str, runtime_env: str
) -> dict[str, str]:
    """The secrets' plain values, for validation only; a plaintext-set secret is refused (never echoed)."""
    values: dict[str, str] = {}
    for key in SECRET_KEYS:
        value = raw(key)
        if value and key not in secret_keys:
            problems.append(
                f"{key} = <plaintext, {len(value)} characters> is not allowed: it must be a Pulumi secret, "
                f"set it with `pulumi config set --secret {key} ...`"
            )
        values[key] = value

    database_url = values["databaseUrl"]
    if database_url:
        scheme = database_url.partition("://")[0] if "://" in database_url else ""
        if scheme not in DATABASE_SCHEMES:
            problems.append(
                f"databaseUrl = {describe_secret(database_url)} with scheme {scheme!r} is not allowed: "
                "expected sqlite:///... or postgresql+psycopg://user:password@host:port/database"
            )
        elif target == "kubernetes" and scheme == "sqlite":
            problems.append(
                f"databaseUrl = {describe_secret(database_url)} (sqlite) is not allowed on the kubernetes "
                "target: every pod would get its own database; use postgresql+psycopg://..."
            )
    elif target == "kubernetes":
        problems.append(
            "databaseUrl = <unset> is not allowed on the kubernetes target: pods share no disk, so set a "
            "PostgreSQL URL with `pulumi config set --secret databaseUrl postgresql+psycopg://...`"
        )

    secret_key = values["secretKey"]
    # Pods share no /app/data, so without a key each would make its own and refuse the others' tokens.
    required_by = (
        "prod" if runtime_env == "prod" else "the kubernetes target" if target == "kubernetes" else ""
    )
    if not secret_key and required_by:
        problems.append(
            f"secretKey = <unset> is not allowed on {required_by}: expected a random secret of at least "
            f"{MIN_LENGTH} characters, e.g. `pulumi config set --secret secretKey $(openssl rand -hex 32)`"
        )
    elif secret_key:
        try:
            check_strength(secret_key)  # the service's own rule: it would refuse to start with this key
        except WeakKey as weak:
            problems.append(
                f"secretKey = {describe_secret(secret_key)} is not allowed: {weak}; e.g. "
                "`pulumi config set --secret secretKey $(openssl rand -hex 32)`"
            )
    key_encryption_key = values["keyEncryptionKey"]
    if key_encryption_key:
        try:
            check_strength(key_encryption_key)  # the service refuses to start with a weak one
        except WeakKey as weak:
            problems.append(
                f"keyEncryptionKey = {describe_secret(key_encryption_key)} is not allowed: {weak}; e.g. "
                "`pulumi config set --secret keyEncryptionKey $(openssl rand -hex 32)`"
            )
    return values


def _image_settings(
    problems: list[str], raw: Raw, stack: str, target: str, secret_values: Mapping[str, str]
) -> ImageSettings:
    repository = raw("imageRepository")
    registry_server = registry_host(repository)
    path = repository_path(repository)
    if not REPOSITORY.match(path):
        problems.append(
            f"imageRepository = {repository!r} is not allowed: expected a lowercase image name without "
            "tag or digest, e.g. microservice.model or registry.example.com/team/microservice-model"
        )
    if registry_server is not None and not REGISTRY_HOST.match(registry_server):
        problems.append(f"imageRepository = {repository!r} has an invalid registry host {registry_server!r}")
    if target == "kubernetes" and registry_server is None:
        problems.append(
            f"imageRepository = {repository!r} is not allowed on the kubernetes target: the cluster pulls "
            "the image, so name a registry to push to, e.g. registry.example.com/team/microservice-model"
        )
    registry_username = raw("registryUsername")
    has_password = bool(secret_values["registryPassword"])
    if bool(registry_username) != has_password:
        problems.append(
            "registryUsername and registryPassword must be set together (registryUsername = "
            f"{registry_username!r}, registryPassword = {'<set>' if has_password else '<unset>'})"
        )
    base_image = raw("baseImage")
    if not base_image or any(c.isspace() for c in base_image):
        problems.append(f"baseImage = {base_image!r} is not allowed: expected an image reference")
    pip_index_url = raw("pipIndexUrl")
    if pip_index_url and not pip_index_url.startswith(("http://", "https://")):
        problems.append(f"pipIndexUrl = {pip_index_url!r} is not allowed: expected empty or an http(s) URL")
    platform = raw("platform")
    if platform and not PLATFORM.match(platform):
        problems.append(
            f"platform = {platform!r} is not allowed: expected empty or os/arch, e.g. linux/amd64"
        )
    elif not platform and not raw("imageRef"):
        _require_platform(problems, target, raw("dockerHost"))
    build_target = raw("buildTarget")
    if not BUILD_STAGE.match(build_target):
        problems.append(f"buildTarget = {build_target!r} is not allowed: expected a Dockerfile stage name")
    return ImageSettings(
        repository=repository,
        tag=stack,
        base_image=base_image,
        pip_index_url=pip_index_url,
        platform=platform or None,
        build_target=build_target,
        push=target == "kubernetes",
        registry_server=registry_server,
        registry_username=registry_username or None,
        pinned_ref=_pinned_ref(problems, raw("imageRef"), target),
    )


def _require_platform(problems: list[str], target: str, docker_host: str) -> None:
    """An empty `platform` builds for the machine running Pulumi (the provider's GOOS/GOARCH), not for
    the engine: right only when that machine runs the image too. A remote engine or a cluster's nodes
    may be another architecture (an arm64 laptop, amd64 servers), so there it must be said."""
    if target == "kubernetes":
        where = "on the kubernetes target (the cluster's nodes run the image)"
    elif docker_host.startswith(DOCKER_HOST_SCHEMES) and not docker_host.startswith(LOCAL_DOCKER_SCHEMES):
        where = f"with a remote dockerHost ({docker_host!r})"
    else:
        return
    problems.append(
        f"platform = '' is not allowed {where}: empty builds for the OS/architecture of the machine "
        "running Pulumi, not the one the image runs on; set it, e.g. linux/amd64"
    )


def _pinned_ref(problems: list[str], ref: str, target: str) -> str | None:
    """`imageRef`: empty (build app/), or an image pinned by digest that the target can run.

    `<repository>@sha256:<64 hex>` (what `imageDigest` exports on kubernetes), or on the docker
    target a local image ID `sha256:<64 hex>` (what it exports there). A tag is refused: it can
    point at another image tomorrow, so the rollback would not be the image the operator chose.
    """
    if not ref:
        return None
    repository, at, digest = ref.rpartition("@")
    registry_server = registry_host(repository)
    path = repository_path(repository)
    is_repo_digest = bool(
        at
        and DIGEST.match(digest)
        and REPOSITORY.match(path)
        and (registry_server is None or REGISTRY_HOST.match(registry_server))
    )
    is_local_id = bool(DIGEST.match(ref))
    if not is_repo_digest and not is_local_id:
        problems.append(
            f"imageRef = {ref!r} is not allowed: expected empty (build app/) or an image pinned by "
            "digest, <repository>@sha256:<64 hex> or, on the docker target, a local image ID "
            "sha256:<64 hex>, e.g. an earlier `pulumi stack output imageDigest`; tags such as :latest "
            "can move, so they are refused"
        )
    elif target == "kubernetes" and is_local_id:
        problems.append(
            f"imageRef = {ref!r} is not allowed on the kubernetes target: a local image ID exists in one "
            "Docker engine only; expected <registry host>/<repository>@sha256:<64 hex> the cluster can pull"
        )
    elif target == "kubernetes" and registry_server is None:
        problems.append(
            f"imageRef = {ref!r} is not allowed on the kubernetes target: the cluster pulls the image, "
            "so name its registry, e.g. registry.example.com/team/microservice-model@sha256:<64 hex>"
        )
    return ref
