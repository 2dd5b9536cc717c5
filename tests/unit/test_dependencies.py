"""Every function's own dependencies are installed for the tests, at the version the function ships with."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pins(lines: list[str]) -> dict[str, str]:
    pins = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = re.split(r"(==|>=)", line, maxsplit=1) if re.search("==|>=", line) else (line, "", "")
            pins[re.sub(r"\[.*\]", "", name).strip().lower()] = version.strip()
    return pins


def test_function_requirements_are_in_the_dev_extra_with_the_same_pin() -> None:
    dev = _pins(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"])
    for requirements in sorted(ROOT.glob("functions/*/requirements.txt")):
        for name, version in _pins(requirements.read_text().splitlines()).items():
            assert name in dev, f"{requirements.relative_to(ROOT)}: {name} missing from the dev extra"
            assert not version or dev[name] in ("", version), f"{name}: {requirements.parent.name} pins {version}"
