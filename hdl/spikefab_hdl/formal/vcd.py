"""Read a counterexample VCD (as yosys-smtbmc writes it): the last value of every signal."""

from __future__ import annotations

from pathlib import Path

__all__ = ["final_values"]


def final_values(path) -> dict[str, int | None]:
    """``{scope.name: value}`` at the end of the trace (None for a value with x or z bits).

    A signal declared in several scopes under one identifier gets every name.
    """
    names: dict[str, list[str]] = {}
    scope: list[str] = []
    values: dict[str, str] = {}
    tokens = Path(path).read_text(errors="replace").split()
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok == "$scope":
            scope.append(tokens[i + 2])
            i += 4
        elif tok == "$upscope":
            scope.pop()
            i += 2
        elif tok == "$var":
            ident, ref = tokens[i + 3], tokens[i + 4]
            names.setdefault(ident, []).append(".".join([*scope, ref]))
            end = tokens.index("$end", i)
            i = end + 1
        elif tok.startswith("$"):  # $timescale, $date, $comment ... $end
            i = tokens.index("$end", i) + 1 if tok != "$end" else i + 1
        elif tok[0] in "bBrR":
            values[tokens[i + 1]] = tok[1:]
            i += 2
        elif tok[0] == "#":
            i += 1
        else:  # scalar: 0n1, 1n1, xn1
            values[tok[1:]] = tok[0]
            i += 1
    out: dict[str, int | None] = {}
    for ident, bits in values.items():
        value = None if any(c in "xXzZ" for c in bits) else int(bits, 2)
        for name in names.get(ident, ()):
            out[name] = value
    return out
