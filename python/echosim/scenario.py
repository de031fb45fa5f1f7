"""Scenarios: what one simulation needs, as the schema ``scenarios/schema/scenario.proto``.

A :class:`Scenario` is immutable; it holds the serialized proto, which is what crosses
into the C++ core. Build one from a file, a dict or YAML text, derive variants with
:meth:`Scenario.with_`, and run it with :func:`echosim.run` (or :meth:`Scenario.run`).
"""

from __future__ import annotations

import json
import math
import os
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import _echosim
from ._flags import SERVE_FLAGS, TRAIN_FLAGS, Flag

__all__ = ["Scenario"]


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


def _scalar_text(value: Any) -> str:
    """The YAML text of a Python value, as the CLI's ``--set key=VALUE`` would spell it."""
    if value is None:
        return ""
    if _is_bool(value):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        v = float(value)
        return repr(v) if math.isfinite(v) else str(v)
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return json.dumps(_jsonable(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(json.dumps(_jsonable(v)) for v in value) + "]"
    return str(value)


def _jsonable(value: Any) -> Any:
    """Converts numpy scalars and tuples so json.dumps accepts a user's dict."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if _is_bool(value):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return value


def _apply_set(sc: "Scenario", overrides: Any, base_dir: str = "") -> "Scenario":
    """The CLI's ``--set``: a dict ``{"dotted.key": value}``, one ``"dotted.key=value"``
    string or several, applied in order; ``None`` leaves ``sc`` alone."""
    if overrides is None:
        return sc
    if isinstance(overrides, Mapping):
        assignments = [f"{k}={_scalar_text(v)}" for k, v in overrides.items()]
    elif isinstance(overrides, str):
        assignments = [overrides]
    else:
        assignments = [str(a) for a in overrides]
    data = sc.to_bytes()
    for assignment in assignments:
        data = _echosim.scenario_apply(data, assignment)
    return Scenario._wrap(data, base_dir)


def _flag_table(data: bytes) -> dict[str, Flag]:
    """The CLI flags that keyword keys name: `echosim serve`'s for a serving scenario,
    `echosim train`'s otherwise."""
    return SERVE_FLAGS if _echosim.scenario_workload_kind(data) == "serving" else TRAIN_FLAGS


def _apply(data: bytes, key: str, value: Any, flags: dict[str, Flag]) -> bytes:
    """Applies one override; a CLI-flag keyword gets the CLI's flag error message."""
    flag = flags.get(key)
    if flag is None:
        return _echosim.scenario_apply(data, f"{key}={_scalar_text(value)}")
    if flag.switch is not None:
        if not _is_bool(value):
            raise ValueError(f"{flag.cli}: expected True or False, got {value!r}")
        text = flag.switch if value else ("false" if flag.switch == "true" else "true")
    else:
        text = _scalar_text(value)
    assignment = f"{flag.key}={text}"
    try:
        return _echosim.scenario_apply(data, assignment)
    except ValueError as e:
        # Name the flag, as `echosim train` does, rather than the override it became.
        msg = str(e)
        prefix = f"--set {assignment}: "
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
        raise ValueError(f"{flag.cli}: {msg}") from None


class Scenario:
    """One simulation's full description (cluster, workload, parallelism, options).

    Create with :meth:`load`, :meth:`from_dict`, :meth:`from_yaml` or ``Scenario()`` (empty).
    Instances are immutable, hashable, comparable and picklable.
    """

    __slots__ = ("_data", "_base_dir")

    def __init__(self, data: bytes = b"") -> None:
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError("Scenario(data) takes serialized scenario proto bytes; "
                            "use Scenario.load, Scenario.from_dict or Scenario.from_yaml")
        self._data = bytes(data)
        self._base_dir = ""
        if self._data:
            _echosim.scenario_to_dict(self._data)  # bad bytes fail here, not later

    @classmethod
    def _wrap(cls, data: bytes, base_dir: str = "") -> "Scenario":
        """Bytes that came from the core (already valid)."""
        s = object.__new__(cls)
        s._data = data
        s._base_dir = base_dir
        return s

    # Construction -----------------------------------------------------------------------
    @classmethod
    def load(cls, path: Any) -> "Scenario":
        """Reads a scenario file (YAML or JSON). Errors name the file, line and field."""
        # Relative trace files of a serving workload are read from the file's folder.
        return cls._wrap(_echosim.scenario_load(str(path)), os.path.dirname(str(path)) or ".")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Scenario":
        """Builds a scenario from nested dicts keyed by schema field names.

        ``Scenario.from_dict({"cluster": {"gpu": "h100-sxm", "gpus": 64}, ...})``.
        """
        if not isinstance(d, Mapping):
            raise ValueError(f"Scenario.from_dict needs a dict, got {type(d).__name__}")
        return cls._wrap(_echosim.scenario_from_text(json.dumps(_jsonable(d), indent=1), "<dict>"))

    @classmethod
    def from_yaml(cls, text: str, source: str = "<yaml>") -> "Scenario":
        """Parses YAML (or JSON) text; errors start with ``source:line:col``."""
        return cls._wrap(_echosim.scenario_from_text(text, source))

    @classmethod
    def from_bytes(cls, data: bytes) -> "Scenario":
        """From serialized ``echosim.scenario.Scenario`` proto bytes."""
        return cls(data)

    # Derivation -------------------------------------------------------------------------
    def with_(self, overrides: Mapping[str, Any] | None = None, /, **kwargs: Any) -> "Scenario":
        """A copy with fields overridden by dotted key, as the CLI's ``--set key=value``.

        ``sc.with_(**{"parallelism.tp": 4})`` or ``sc.with_({"parallelism.tp": 4})``. Keys
        that are :func:`echosim.train` keywords (``tp``, ``nic_gbps``, ...) set the field of
        that CLI flag (``echosim serve``'s flags for a serving scenario). ``None`` clears a field (back to its default); dicts merge into a
        message field; lists replace a repeated field. Overrides apply in order, the
        positional dict first. Raises ValueError with the CLI's message on bad input.
        """
        items: list[tuple[str, Any]] = []
        if overrides is not None:
            if not isinstance(overrides, Mapping):
                raise ValueError(f"with_() takes a dict of overrides, got {type(overrides).__name__}")
            items.extend(overrides.items())
        items.extend(kwargs.items())
        data = self._data
        flags = _flag_table(data)
        for key, value in items:
            data = _apply(data, str(key), value, flags)
        return Scenario._wrap(data, self._base_dir)

    def resolved(self) -> "Scenario":
        """Every default filled in (what ``scenario.resolved.yaml`` holds); validates names."""
        return Scenario._wrap(_echosim.scenario_resolve(self._data), self._base_dir)

    # Views ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The fields that are set, as nested dicts (``Scenario.from_dict`` reads it back)."""
        return _echosim.scenario_to_dict(self._data)

    def to_yaml(self) -> str:
        """Every field as YAML, in schema order (unset fields show their defaults)."""
        return _echosim.scenario_to_yaml(self._data)

    def to_bytes(self) -> bytes:
        """Serialized ``echosim.scenario.Scenario`` proto."""
        return self._data

    def get(self, key: str, default: Any = None) -> Any:
        """The value of a dotted field if set, else ``default``: ``sc.get("parallelism.tp")``."""
        node: Any = self.to_dict()
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    @property
    def kind(self) -> str:
        """``"training"``, ``"serving"``, or ``""`` while no workload is set."""
        return _echosim.scenario_workload_kind(self._data)

    def run(self, **kwargs: Any) -> "Any":
        """Simulates this scenario: ``echosim.run(self)`` for training,
        ``echosim.serve(scenario=self)`` for serving."""
        if self.kind == "serving":
            from .serving import serve

            return serve(scenario=self, **kwargs)
        from .training import run

        return run(self, **kwargs)

    # Python protocol --------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        return isinstance(other, Scenario) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Scenario._wrap, (self._data, self._base_dir))

    def __repr__(self) -> str:
        return f"Scenario({json.dumps(self.to_dict())})"
