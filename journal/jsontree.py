"""Copy-on-write rewriting of JSON values (dicts, lists, strings and scalars).

Contract:
- `TreeRewriter.value(v, path)` returns `v` itself when no hook changed
  anything below it, else a new value of the same shape: only the lists and
  dicts on the way to a change are copied, the caller's value is never
  modified. Lists keep their length, dicts their order.
- Hooks (override in a subclass): `string` for every string value, `key` for
  every string key of a dict, `entry` for every dict item (by default
  `value` of the item). Values of other types are returned as they are.
- Paths: with ``path=None`` no path is built (the hot path of redaction);
  otherwise each hook gets the path to its value as a tuple of keys and list
  indices. A key's path is the path of its dict plus the key.
- Keys: when `key` changes keys so that two become equal, the later one gets
  ``#2`` (then ``#3``...) appended until it is distinct: no item is ever lost,
  and the same input always gives the same keys.
- Walks nest one Python frame per level: callers bound the depth (the codec
  refuses values deeper than ``MAX_NESTING``).

This module imports nothing from p8j: store, cache and secrets all build on it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Path", "TreeRewriter", "distinct_key"]

Path = tuple[str | int, ...] | None


def distinct_key(key: Any, taken: dict[Any, Any]) -> Any:
    """`key`, or `key` + ``#n`` (n = 2, 3...) for the first n not in `taken`."""
    if key not in taken or not isinstance(key, str):
        return key
    n = 2
    while f"{key}#{n}" in taken:
        n += 1
    return f"{key}#{n}"


class TreeRewriter:
    """Walks a JSON value, copying only what its hooks change; see the module doc."""

    def string(self, s: str, path: Path) -> Any:
        """The new value for the string `s` (return `s` itself to keep it)."""
        return s

    def key(self, k: str, path: Path) -> Any:
        """The new key for the dict key `k` (return `k` itself to keep it)."""
        return k

    def entry(self, d: dict[Any, Any], k: Any, item: Any, path: Path) -> Any:
        """The new value of `d[k]` (by default the walk of `item`)."""
        return self.value(item, path)

    def value(self, v: Any, path: Path = None) -> Any:
        """`v` with every hook applied; `v` itself when nothing changed."""
        if isinstance(v, str):
            return self.string(v, path)
        if isinstance(v, list):
            out: list[Any] | None = None
            for i, item in enumerate(v):
                new = self.value(item, None if path is None else (*path, i))
                if new is not item:
                    if out is None:
                        out = list(v)
                    out[i] = new
            return v if out is None else out
        if isinstance(v, dict):
            return self._dict(v, path)
        return v

    def _dict(self, v: dict[Any, Any], path: Path) -> dict[Any, Any]:
        dout: dict[Any, Any] | None = None
        keys: list[Any] | None = None  # the new keys, once one changed
        key, entry = self.key, self.entry
        for i, (k, item) in enumerate(v.items()):
            sub = None if path is None else (*path, k)
            if isinstance(k, str):
                new_k = key(k, sub)
                if new_k is not k:
                    if keys is None:
                        keys = list(v)
                    keys[i] = new_k
            new = entry(v, k, item, sub)
            if new is not item:
                if dout is None:
                    dout = dict(v)
                dout[k] = new
        if keys is not None:
            # Rebuild in order; a key made equal to an earlier one is kept apart.
            values = v if dout is None else dout
            rebuilt: dict[Any, Any] = {}
            for new_k, item in zip(keys, values.values(), strict=True):
                rebuilt[distinct_key(new_k, rebuilt)] = item
            return rebuilt
        return v if dout is None else dout
