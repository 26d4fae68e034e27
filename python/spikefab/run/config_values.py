"""The value checkers of the run-config schema (``config.SCHEMA``): each ``check(key, v)``
returns the value (normalised) or raises a one-line ``ValueError`` naming ``key``, the value
and what is allowed."""

from __future__ import annotations

import re

from ..fixed import is_int, is_number

#: ``spikefab_hdl.core.lanes.MAX_LANES`` (checked equal by a test).
MAX_LANES = 128

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class _Int:
    def __init__(self, lo, hi, *, words=()):
        self.lo, self.hi, self.words = lo, hi, tuple(words)

    def check(self, key, v):
        if v in self.words and isinstance(v, str):
            return v
        if not is_int(v) or not self.lo <= v <= self.hi:
            extra = "".join(f" or {w!r}" for w in self.words)
            raise ValueError(f"config key {key!r} must be an integer in [{self.lo}, {self.hi}]"
                             f"{extra}, not {v!r}")
        return int(v)


class _Float:
    def __init__(self, lo, hi, *, lo_open=False, hi_open=False):
        self.lo, self.hi, self.lo_open, self.hi_open = lo, hi, lo_open, hi_open

    def check(self, key, v):
        ok = is_number(v) and (v > self.lo if self.lo_open else v >= self.lo)
        ok = ok and (v < self.hi if self.hi_open else v <= self.hi)
        if not ok:
            left, right = "(" if self.lo_open else "[", ")" if self.hi_open else "]"
            rng = f"{left}{self.lo}, {self.hi}{right}"
            raise ValueError(f"config key {key!r} must be a number in {rng}, not {v!r}")
        return float(v)


class _Str:
    def __init__(self, choices=None, pattern=None):
        self.choices, self.pattern = choices, pattern

    def check(self, key, v):
        if not isinstance(v, str):
            raise ValueError(f"config key {key!r} must be a string, not {v!r}")
        if self.choices is not None and v not in self.choices:
            allowed = ", ".join(repr(c) for c in self.choices)
            raise ValueError(f"config key {key!r} must be one of {allowed}, not {v!r}")
        if self.pattern is not None and not _NAME.match(v):
            raise ValueError(f"config key {key!r} must be letters, digits, '.', '_' or '-' "
                             f"(not starting with '.', '_' or '-'), not {v!r}")
        return v


class _Or:
    """``word`` (e.g. ``"none"``) or a value ``checker`` accepts."""

    def __init__(self, checker, word="none"):
        self.checker, self.word = checker, word

    def check(self, key, v):
        if v == self.word:
            return v
        try:
            return self.checker.check(key, v)
        except ValueError as e:
            raise ValueError(f"{e} (or {self.word!r})") from None


class _Bool:
    def check(self, key, v):
        if not isinstance(v, bool):
            raise ValueError(f"config key {key!r} must be true or false, not {v!r}")
        return v


class _List:
    def __init__(self, item, *, min_len=0, choices=None):
        self.item, self.min_len, self.choices = item, min_len, choices

    def check(self, key, v):
        if not isinstance(v, list) or len(v) < self.min_len:
            raise ValueError(f"config key {key!r} must be a list of >= {self.min_len} items, "
                             f"not {v!r}")
        return [self.item.check(f"{key}[{i}]", x) for i, x in enumerate(v)]


class _Lanes:
    """``hardware.lanes``: an integer (every layer), ``"auto"`` (the planner, per board) or
    a list of one ``L`` or ``"LxK"`` per layer (``spikefab_hdl.core.lanes``; checked against
    the network when the core is built)."""

    _ITEM = re.compile(r"^([0-9]+)(?:x([0-9]+))?$")

    def check(self, key, v):
        if v == "auto" or (is_int(v) and 1 <= v <= MAX_LANES):
            return v if v == "auto" else int(v)
        allowed = (f"config key {key!r} must be an integer in [1, {MAX_LANES}], 'auto' or a "
                   f"list of one L or 'LxK' per layer (L in [1, {MAX_LANES}], K in [1, "
                   f"{MAX_LANES}]), not {v!r}")
        if not isinstance(v, list) or not v:
            raise ValueError(allowed)
        out = []
        for i, item in enumerate(v):
            match = self._ITEM.match(item) if isinstance(item, str) else None
            ok = (is_int(item) and 1 <= item <= MAX_LANES) or (
                match is not None and 1 <= int(match[1]) <= MAX_LANES
                and 1 <= int(match[2] or 1) <= MAX_LANES)
            if not ok:
                raise ValueError(f"config key '{key}[{i}]' must be an integer in [1, "
                                 f"{MAX_LANES}] or 'LxK' (L, K in [1, {MAX_LANES}]), not "
                                 f"{item!r}")
            out.append(int(item) if is_int(item) else item)
        return out


def lanes_arg(lanes) -> str:
    """``hardware.lanes`` as a ``--lanes`` argument (``64,16x64``)."""
    return ",".join(map(str, lanes)) if isinstance(lanes, list) else str(lanes)


class _Table:
    def check(self, key, v):
        if not isinstance(v, dict):
            raise ValueError(f"config key {key!r} must be a table, not {v!r}")
        return dict(v)
