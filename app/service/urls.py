"""URL converters: `<id:name>` takes only ids the database can hold, so a huge number is a 404, not a 500."""

from __future__ import annotations

from werkzeug.exceptions import NotFound
from werkzeug.routing import BaseConverter

from .security import MAX_ID, parse_id


class IdConverter(BaseConverter):
    regex = r"\d{1,%d}" % len(str(MAX_ID))  # noqa: UP031 (a regex, braces would need doubling)

    def to_python(self, value: str) -> int:
        parsed = parse_id(value)
        if parsed is None:
            # Not ValidationError: Werkzeug would then answer 405 when another method's rule has the
            # same path (GET and DELETE /users/<id>), where no such id can exist: 404 it is.
            raise NotFound(f"no such id {value}: ids are 1 to {MAX_ID}")
        return parsed

    def to_url(self, value: object) -> str:
        return str(value)
