"""Channel adapters: one module per platform, found by its file name.

``segmentation/sync/adapters/<channel>.py`` defining ``SPEC`` and ``create(config, http)`` is all it takes to
add a channel: there is no central list to edit, so adapters can be written in parallel without conflicts.
Listing the channels reads file names only; an adapter module is imported when a destination uses it.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from types import ModuleType

from segmentation.sync.adapters.base import ChannelSpec

_NOT_ADAPTERS = frozenset({"base"})


class UnknownChannel(ValueError):
    pass


@cache
def channel_names() -> frozenset[str]:
    return frozenset(
        module.name
        for module in pkgutil.iter_modules(__path__)
        if not module.name.startswith("_") and module.name not in _NOT_ADAPTERS
    )


@cache
def load(channel: str) -> ModuleType:
    if channel not in channel_names():
        raise UnknownChannel(f"unknown channel {channel!r}; known: {', '.join(sorted(channel_names()))}")
    module = importlib.import_module(f"{__name__}.{channel}")
    spec = getattr(module, "SPEC", None)
    if not isinstance(spec, ChannelSpec) or spec.name != channel or not callable(getattr(module, "create", None)):
        raise TypeError(f"adapter module {channel} must define SPEC (named {channel!r}) and create(config, http)")
    return module


def spec(channel: str) -> ChannelSpec:
    return load(channel).SPEC  # type: ignore[no-any-return]
