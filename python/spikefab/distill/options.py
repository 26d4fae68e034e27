"""The options a recipe takes (a run config's ``distill.options``), read from its signatures.

There is no second copy of any method's parameters: the names and defaults are the keyword
arguments of the recipe's constructor and, where it passes ``**kwargs`` on, of the class
named by its ``options_from``; the types are their annotations; the ranges are checked by
building the recipe, so each constructor's own checks decide. Arguments the run fills in
(``filled``: the student, its sizes, the random generator) are not options.
"""

from __future__ import annotations

import inspect
import re
import types
import typing

from torch import nn

from ..fixed import is_int, is_number
from .recipes import make_recipe, recipe_class

__all__ = ["OptionError", "check_options", "option_kinds"]

#: What a config value of each annotation must be.
_WHAT = {"number": "a number", "integer": "an integer", "string": "a string",
         "bool": "true or false", "strings": "a list of strings"}


class OptionError(ValueError):
    """A bad option; ``option`` names it (None when the options as a whole are refused)."""

    def __init__(self, option: str | None, problem: str):
        super().__init__(problem if option is None else f"{option} {problem}")
        self.option, self.problem = option, problem


def _kind(annotation) -> str | None:
    """``"number"``, ``"integer"``, ... for a TOML-expressible annotation, else None."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _kind(args[0]) if len(args) == 1 else None
    if typing.get_origin(annotation) in (tuple, list):
        return "strings" if typing.get_args(annotation)[:1] == (str,) else None
    return {float: "number", int: "integer", str: "string", bool: "bool"}.get(annotation)


def _params(target, filled: tuple[str, ...]) -> dict[str, str | None]:
    """Keyword arguments of ``target``'s constructor, following ``**kwargs`` to
    ``target.options_from`` (a recipe's loss class)."""
    out: dict[str, str | None] = {}
    for p in inspect.signature(target.__init__, eval_str=True).parameters.values():
        if p.name == "self" or p.name in filled or p.kind is p.VAR_POSITIONAL:
            continue
        if p.kind is not p.VAR_KEYWORD:
            out[p.name] = _kind(p.annotation)
        elif getattr(target, "options_from", None) is not None:
            out.update(_params(target.options_from, filled + tuple(out)))
    return out


def option_kinds(method: str) -> dict[str, str]:
    """``{option: kind}`` of a recipe, in signature order; kinds are keys of ``_WHAT``."""
    cls = recipe_class(method)
    return {k: v for k, v in _params(cls, cls.filled).items() if v is not None}


def _check_type(option: str, kind: str, value) -> None:
    ok = {"number": is_number, "integer": is_int, "string": lambda v: isinstance(v, str),
          "bool": lambda v: isinstance(v, bool),
          "strings": lambda v: isinstance(v, list | tuple)
          and all(isinstance(x, str) for x in v)}[kind](value)
    if not ok:
        raise OptionError(option, f"must be {_WHAT[kind]}, not {value!r}")


def _placeholders(method: str, timesteps: int) -> dict:
    """What the run fills in, as far as building the recipe needs it (sizes do not matter)."""
    if method != "tssd":
        return {}
    student = nn.Module()
    student.timesteps = timesteps
    return {"student": student, "n_features": 1, "n_classes": 2}


_NAMED = re.compile(r"^.*?\.(\w+) (must .*)$")


def check_options(method: str, options: dict, *, timesteps: int) -> None:
    """Refuse options ``method`` does not take, of the wrong type or out of range.

    Raises :class:`OptionError` naming the option; ``timesteps`` is the student's ``T``
    (TSSD's ``T_teacher`` must not be below it).
    """
    kinds = option_kinds(method)
    for option, value in options.items():
        if option not in kinds:
            allowed = ", ".join(kinds) or "none"
            raise OptionError(option, f"is not an option of method {method!r}; allowed: "
                                      f"{allowed}")
        _check_type(option, kinds[option], value)
    try:
        make_recipe(method, **options, **_placeholders(method, timesteps))
    except (ValueError, TypeError) as e:
        m = _NAMED.match(str(e))
        if m and m.group(1) in options:
            raise OptionError(m.group(1), m.group(2)) from None
        raise OptionError(None, str(e)) from None
