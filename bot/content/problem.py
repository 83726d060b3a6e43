"""A problem found in the content: where it is, what is wrong and what to do."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Severity(enum.StrEnum):
    """How bad a problem is: errors keep an entry out, warnings only inform."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem at one line of one content file (line 0: the file or folder as a whole)."""

    path: str
    line: int
    message: str
    severity: Severity = Severity.ERROR

    @property
    def is_error(self) -> bool:
        """Tell whether this problem keeps the content from loading."""
        return self.severity is Severity.ERROR

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line > 0 else self.path
        label = "warning: " if self.severity is Severity.WARNING else ""
        return f"{where}: {label}{self.message}"
