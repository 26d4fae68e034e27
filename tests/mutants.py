"""Planted bugs for the proofs' tests: a gateware class with one line of a method changed."""

import inspect
import sys
import textwrap


def mutant(cls, old: str, new: str, method: str = "elaborate"):
    """A subclass of ``cls`` whose ``method`` has the text ``old`` (found exactly once)
    replaced by ``new``; the method is compiled in ``cls``'s module, so it sees its names."""
    src = textwrap.dedent(inspect.getsource(getattr(cls, method)))
    assert src.count(old) == 1, f"{cls.__name__}.{method} has {src.count(old)} of {old!r}"
    scope = dict(vars(sys.modules[cls.__module__]))
    exec(compile(src.replace(old, new), f"<{cls.__name__}.{method}, planted>", "exec"), scope)
    return type(f"Planted{cls.__name__}", (cls,), {method: scope[method]})
