"""docs/semantics.md states exactly the ranges spikefab.spec enforces."""

import re
from pathlib import Path

from spikefab import spec

DOC = Path(__file__).resolve().parent.parent / "docs" / "semantics.md"


def _rows() -> dict[str, str]:
    text = DOC.read_text()
    section = text.split("## Allowed ranges", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            rows[cells[0]] = cells[2]
    return rows


def _interval(text: str) -> tuple[int, int]:
    lo, hi = re.search(r"\[(\d+), (\d+)\]", text).groups()
    return int(lo), int(hi)


def test_every_range_in_the_doc_is_the_one_spec_enforces():
    rows = _rows()
    assert _interval(rows["`v_bits`"]) == spec.V_BITS_RANGE
    assert _interval(rows["`w_bits`"]) == spec.W_BITS_RANGE
    assert _interval(rows["`b_bits`"]) == spec.B_BITS_RANGE
    assert _interval(rows["`n_in`, `n_out`"]) == spec.SIZE_RANGE
    assert _interval(rows["`timesteps` (T)"]) == spec.T_RANGE
    assert _interval(rows["`in_bits`"].split(";")[1]) == spec.IN_BITS_RANGE
    for name, choices in (("`reset`", spec.RESETS), ("`encoding`", spec.ENCODINGS)):
        assert set(re.findall(r'"([\w-]+)"', rows[name])) == set(choices)


def test_the_bounds_the_doc_states_are_enforced_at_their_edges():
    lo, hi = spec.V_BITS_RANGE
    top = spec.LIFSpec(v_bits=hi, theta=2 ** (hi - 1) - 1, leak_shift=hi - 1)
    assert top.theta == 2**31 - 1
    for bad in (dict(v_bits=lo - 1), dict(v_bits=hi + 1), dict(v_bits=8, theta=128),
                dict(v_bits=8, theta=0), dict(v_bits=8, leak_shift=8)):
        try:
            spec.LIFSpec(**bad)
        except ValueError:
            continue
        raise AssertionError(f"LIFSpec({bad}) was accepted")
