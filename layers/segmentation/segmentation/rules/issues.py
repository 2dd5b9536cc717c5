"""What is wrong with a rule: every problem found, each with the JSON path of the node at fault."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RuleIssue:
    """One problem in a rule tree.

    ``path`` is a JSON path such as ``$.all[1].any[0].value``; ``suggestions`` holds close valid names or a
    corrected value the author probably meant; ``code`` is a stable machine-readable category.
    """

    path: str
    message: str
    suggestions: list[str] = field(default_factory=list)
    code: str = "invalid"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "message": self.message, "suggestions": list(self.suggestions), "code": self.code}

    def __str__(self) -> str:
        hint = f" (did you mean: {', '.join(self.suggestions)}?)" if self.suggestions else ""
        return f"{self.path}: {self.message}{hint}"


class RuleValidationError(Exception):
    """A rule was rejected; ``issues`` lists every problem found, not just the first."""

    def __init__(self, issues: list[RuleIssue]) -> None:
        self.issues = list(issues)
        count = len(self.issues)
        summary = "; ".join(str(issue) for issue in self.issues[:5])
        more = f"; and {count - 5} more" if count > 5 else ""
        super().__init__(f"invalid rule ({count} issue{'s' if count != 1 else ''}): {summary}{more}")

    def to_dict(self) -> dict[str, Any]:
        return {"message": "invalid rule", "issues": [issue.to_dict() for issue in self.issues]}
