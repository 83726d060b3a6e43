"""Reading a content file as text without letting a bad file raise."""

from __future__ import annotations

from pathlib import Path

from bot.content.problem import Problem


def read_text(path: Path) -> str | Problem:
    """Return the file's UTF-8 text with unified line ends, or the problem that prevents it."""
    try:
        data = path.read_bytes()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        return Problem(str(path), 0, f"cannot read the file ({reason}); check its permissions")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        return Problem(
            str(path),
            line,
            f"the file is not UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start});"
            " save it as UTF-8",
        )
    return text.replace("\r\n", "\n").replace("\r", "\n")
