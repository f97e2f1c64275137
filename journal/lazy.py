"""Names loaded on first use (PEP 562), for the packages' ``__init__`` modules.

Contract: `lazy_exports(package, table, namespace)` returns the module-level
``__getattr__`` and ``__dir__`` of `package`: a name in `table` (name -> module
relative to the package) is imported from its module on first access and cached
in `namespace` (the package's globals), so later accesses cost nothing; any
other name raises AttributeError. Keeping imports lazy keeps the `p8j`
command's start-up light (a command imports only what it uses).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, table: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of `package` (see the module docstring)."""

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{module}", package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(namespace["__all__"]))

    return __getattr__, __dir__
