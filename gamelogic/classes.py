"""The entity class tree: Atlas ``parents`` and inherited default properties.

A class names its parents and overrides what it inherits; everything else
comes down the tree. The demo game's tree is ``classes.toml`` next to this
file; a studio edits that file, not code::

    tree = ClassTree.load()
    tree.is_a("pig", "creature")        # True
    tree.defaults("pig")["health"]      # 30 (pig overrides creature's 100)
    tree.ancestry("sword")              # ['sword', 'weapon', 'item', 'entity']

A property a child overrides must keep the parent's type (an int may stand
for a float), so the worldbuilder can check what a designer types, and
:meth:`ClassTree.check_properties` says what is wrong with a set of
overrides.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

DEFAULT_FILE = Path(__file__).with_name("classes.toml")
_RESERVED = ("parents", "description")


class ClassTreeError(ValueError):
    """The class file is wrong: an unknown parent, a cycle, a property of the wrong type."""


class ClassTree:
    """Entity classes by name, each with its parents and its own properties."""

    def __init__(self, classes: Mapping[str, Mapping[str, Any]]):
        self._parents: dict[str, list[str]] = {}
        self._own: dict[str, dict[str, Any]] = {}
        self._description: dict[str, str] = {}
        for name, body in classes.items():
            if not isinstance(body, Mapping):
                raise ClassTreeError(f"class {name!r}: expected a table, got {body!r}")
            parents = body.get("parents", [])
            if isinstance(parents, str) or not all(isinstance(p, str) for p in parents):
                raise ClassTreeError(f"class {name!r}: parents must be a list of class names")
            self._parents[name] = list(parents)
            self._description[name] = str(body.get("description", ""))
            self._own[name] = {k: v for k, v in body.items() if k not in _RESERVED}
        self._defaults: dict[str, dict[str, Any]] = {}
        self._ancestry: dict[str, list[str]] = {}
        for name in self._parents:
            self._resolve(name, ())

    @classmethod
    def load(cls, path: str | Path | None = None) -> ClassTree:
        """Read a class file (TOML); the demo game's by default."""
        path = Path(path) if path is not None else DEFAULT_FILE
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ClassTreeError(f"{path}: {exc}") from None
        return cls(data)

    # -- reading -------------------------------------------------------------------

    def __contains__(self, name: object) -> bool:
        return name in self._parents

    def __iter__(self) -> Iterator[str]:
        return iter(self._parents)

    def names(self) -> list[str]:
        return list(self._parents)

    def parents(self, name: str) -> list[str]:
        return list(self._parents[self._known(name)])

    def children(self, name: str) -> list[str]:
        return [c for c, ps in self._parents.items() if name in ps]

    def description(self, name: str) -> str:
        return self._description[self._known(name)]

    def ancestry(self, name: str) -> list[str]:
        """``name`` then its ancestors, nearest first (depth-first, left parent first)."""
        return list(self._ancestry[self._known(name)])

    def is_a(self, name: str, ancestor: str) -> bool:
        return name in self._parents and ancestor in self._ancestry[name]

    def defaults(self, name: str) -> dict[str, Any]:
        """Every property of ``name`` with inherited values filled in (a fresh dict)."""
        return {k: _copy(v) for k, v in self._defaults[self._known(name)].items()}

    def own(self, name: str) -> dict[str, Any]:
        """The properties ``name`` itself sets (not inherited)."""
        return dict(self._own[self._known(name)])

    def defined_by(self, name: str, prop: str) -> str | None:
        """The nearest class in ``name``'s ancestry that sets ``prop``."""
        for cls in self._ancestry[self._known(name)]:
            if prop in self._own[cls]:
                return cls
        return None

    def properties(self, name: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The defaults of ``name`` with ``overrides`` applied (unchecked: see check_properties)."""
        props = self.defaults(name)
        if overrides:
            props.update({k: _copy(v) for k, v in overrides.items()})
        return props

    def check_properties(self, name: str, overrides: Mapping[str, Any]) -> list[str]:
        """What is wrong with ``overrides`` for class ``name``: unknown keys, wrong types."""
        if name not in self._parents:
            return [f"unknown class {name!r}"]
        defaults = self._defaults[name]
        problems = []
        for key, value in overrides.items():
            if key not in defaults:
                problems.append(f"{name} has no property {key!r}")
            elif not same_type(defaults[key], value):
                problems.append(f"{name}.{key} must be {type_name(defaults[key])}, got {value!r}")
        return problems

    # -- internals -----------------------------------------------------------------

    def _known(self, name: str) -> str:
        if name not in self._parents:
            raise KeyError(f"unknown entity class {name!r}")
        return name

    def _resolve(self, name: str, path: tuple[str, ...]) -> None:
        if name in self._defaults:
            return
        if name in path:
            raise ClassTreeError(f"class {name!r}: its parents form a cycle ({' -> '.join(path + (name,))})")
        merged: dict[str, Any] = {}
        ancestry = [name]
        for parent in self._parents[name]:
            if parent not in self._parents:
                raise ClassTreeError(f"class {name!r}: unknown parent {parent!r}")
            self._resolve(parent, path + (name,))
            for key, value in self._defaults[parent].items():
                merged.setdefault(key, value)
            ancestry += [a for a in self._ancestry[parent] if a not in ancestry]
        for key, value in self._own[name].items():
            if key in merged and not same_type(merged[key], value):
                raise ClassTreeError(f"class {name!r}: {key} must be {type_name(merged[key])} "
                                     f"as in its parent, got {value!r}")
            merged[key] = value
        self._defaults[name] = merged
        self._ancestry[name] = ancestry


def same_type(default: Any, value: Any) -> bool:
    """Whether ``value`` may stand where ``default`` is: same type, an int for a float."""
    if isinstance(default, bool) or isinstance(value, bool):
        return type(default) is type(value)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, list):
        if not isinstance(value, list):
            return False
        if default and all(isinstance(d, (int, float)) and not isinstance(d, bool) for d in default):
            return len(value) == len(default) and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        return True
    return type(default) is type(value)


def type_name(default: Any) -> str:
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, float):
        return "a number"
    if isinstance(default, int):
        return "a whole number"
    if isinstance(default, str):
        return "text"
    if isinstance(default, list):
        if default and all(isinstance(d, (int, float)) for d in default):
            return f"a list of {len(default)} numbers"
        return "a list"
    return type(default).__name__


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value
