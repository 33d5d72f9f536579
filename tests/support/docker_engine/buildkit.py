"""Image builds with either builder, as pulumi-docker runs them: BuildKit or the classic builder.

The Docker SDK only speaks the classic builder. BuildKit is the daemon's built-in one, reached as
pulumi-docker's BuilderBuildKit reaches it: `POST /build?version=2` (Docker >= 18.09; no buildx CLI
plugin involved, which Debian's docker.io 20.10 CLI would need for `DOCKER_BUILDKIT=1 docker build`).
Without a client session the daemon takes the build context from the request body, as a tar.
"""

from __future__ import annotations

import base64
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from docker.utils.build import exclude_paths

BUILDKIT = "BuilderBuildKit"
CLASSIC = "BuilderV1"


class BuildFailed(RuntimeError):
    """The engine refused the build; the message carries its error and the last build output."""


def context_tar(context: Path, dockerfile: str) -> bytes:
    """The build context as the CLI sends it: .dockerignore applied, the Dockerfile always included.

    GNU format: the daemon's BuildKit does not take a tar that starts with a PAX header (what Python's
    tarfile writes by default) for an archive, and parses it as the Dockerfile itself.
    """
    ignore = context / ".dockerignore"
    patterns = []
    if ignore.exists():
        lines = (line.strip() for line in ignore.read_text().splitlines())
        patterns = [line for line in lines if line and not line.startswith("#")]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for relative in sorted(exclude_paths(str(context), patterns, dockerfile=dockerfile)):
            tar.add(str(context / relative), arcname=relative, recursive=False)
    return buffer.getvalue()


def build(api: Any, context: Path, dockerfile: str, builder: str, **options: Any) -> str:
    """Build `context` (Dockerfile path relative to it) with `builder`; return the image ID.

    options: tag, buildargs, target, platform, nocache (as the Docker SDK's `APIClient.build` names them).
    """
    if builder == CLASSIC:
        chunks = api.build(path=str(context), dockerfile=dockerfile, rm=True, decode=True, **options)
        return _image_id(chunks, api, options["tag"])
    if builder != BUILDKIT:
        raise BuildFailed(f"unknown builder {builder!r} (expected {BUILDKIT} or {CLASSIC})")
    params = {
        "version": "2",
        "dockerfile": dockerfile,
        "t": options["tag"],
        "buildargs": json.dumps(options.get("buildargs") or {}),
        "target": options.get("target") or "",
        "platform": options.get("platform") or "",
        "nocache": "1" if options.get("nocache") else "",
    }
    response = api._post(
        api._url("/build"),
        params={key: value for key, value in params.items() if value},
        data=context_tar(context, dockerfile),
        headers={"Content-Type": "application/x-tar"},
        stream=True,
        timeout=None,
    )
    api._raise_for_status(response)
    return _image_id(api._stream_helper(response, decode=True), api, options["tag"])


def _image_id(chunks: Iterator[dict[str, Any]], api: Any, tag: str) -> str:
    output: list[str] = []
    image_id = None
    for chunk in chunks:
        if "stream" in chunk:
            output.append(chunk["stream"])
        if chunk.get("id") == "moby.buildkit.trace":
            output += trace_logs(chunk.get("aux", ""))
        if chunk.get("id") == "moby.image.id":
            image_id = chunk["aux"]["ID"]
        if "error" in chunk:
            tail = "".join(output)[-4000:]
            raise BuildFailed(f"docker build failed: {chunk['error']}\n{tail}")
    return image_id or api.inspect_image(tag)["Id"]


def trace_logs(aux: str) -> list[str]:
    """What the build's steps printed, from one BuildKit trace message (a base64 protobuf
    `moby.buildkit.v1.StatusResponse`: field 3 = VertexLog, whose field 4 = the bytes printed)."""
    logs = []
    for number, value in _fields(base64.b64decode(aux)):
        if number == 3 and isinstance(value, bytes):
            logs += [v.decode(errors="replace") for n, v in _fields(value) if n == 4 and isinstance(v, bytes)]
    return logs


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """The (field number, value) pairs of one protobuf message (wire format, no schema needed)."""
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, position = _varint(data, position)
            yield number, value
        elif wire_type == 2:
            size, position = _varint(data, position)
            yield number, data[position : position + size]
            position += size
        elif wire_type in (1, 5):
            position += 8 if wire_type == 1 else 4
        else:
            return  # groups: not used by these messages


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, position
        shift += 7
