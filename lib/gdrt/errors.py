"""One error type for bad input: a one-line message naming file, line and field."""

from __future__ import annotations


# every character str.splitlines() breaks on: a newline becomes a space, the others their escape
_ONE_LINE = {ord("\n"): " ", **{ord(c): repr(c)[1:-1] for c in "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}}


class GDRTInputError(ValueError):
    """Bad input. ``str(err)`` is one line: ``FILE:LINE: field FIELD: what is wrong``."""

    def __init__(self, path, message: str, line: int | None = None, field: str | None = None):
        self.path, self.line, self.field, self.message = str(path), line, field, message
        where = self.path + (f":{line}" if line is not None else "")
        what = (f"field '{field}': " if field else "") + message
        super().__init__(f"{where}: {what}".translate(_ONE_LINE))
