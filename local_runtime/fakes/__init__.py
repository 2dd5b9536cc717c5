"""Local fake marketing platforms, one module per channel, found by file name like the adapters.

``local_runtime/fakes/<channel>.py`` defines ``FAKE`` (a :class:`~local_runtime.fakes.base.FakePlatform`
subclass) and ``config(fake) -> dict``: the channel secret that points the real adapter at the fake.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import Any

from local_runtime.fakes.base import FakePlatform, Faults


def channels() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name != "base" and not m.name.startswith("_"))


def module(channel: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{channel}")


def start(channel: str, **kwargs: Any) -> tuple[FakePlatform, dict[str, Any]]:
    """A running fake for ``channel`` and the secret value that points the adapter at it."""
    mod = module(channel)
    fake: FakePlatform = mod.FAKE(**kwargs).start()
    return fake, mod.config(fake)


__all__ = ["FakePlatform", "Faults", "channels", "module", "start"]
