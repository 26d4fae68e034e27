"""bench/up5k.py's `--keep` merge and the gateware a bench page names (the bench itself runs
Verilator and nextpnr and is not run here)."""

import subprocess

from jobcache import gateware_note, gateware_version  # bench/ is on pytest's pythonpath
from up5k import _kept, markdown


def _row(plan, gw, cycles=1.0):
    return {"plan": plan, "gateware": gw, "cycles": cycles}


def test_keep_replaces_the_measured_plans_in_the_saved_order():
    old = {"cycles": [_row("2", "old"), _row("2x8,10", "old", 817.0), _row("4x8,10", "old")],
           "synth": [{**_row("2x8,10", "old"), "module": m} for m in ("core", "total")],
           "builds": [_row("2x4,10", "old")]}
    new = [_row("2x8,10", "new", 818.0), _row("9", "new")]
    synth = [{**_row("2x8,10", "new"), "module": "total"}]
    rows, syn, builds = _kept(old, new, synth, [])
    assert [(r["plan"], r["gateware"]) for r in rows] == [
        ("2", "old"), ("2x8,10", "new"), ("4x8,10", "old"), ("9", "new")]
    assert rows[1]["cycles"] == 818.0
    # a plan's synth rows go together: the old module rows of 2x8,10 are all replaced
    assert [(r["module"], r["gateware"]) for r in syn] == [("total", "new")]
    assert builds == old["builds"]


def test_page_names_each_rows_gateware():
    res = {"images": 3, "wall_s": 1.0, "gateware": {"commit": "abc1234"},
           "cycles": [{**_row("2x8,10", "abc1234", 818.0), "max": 878, "speed_up": 4.07,
                       "bound": 877.0, "ratio_min": 0.93, "ratio_max": 1.01,
                       "rtl_golden": "3/3", "input_work": 512.0, "spikes_t0": 37.5,
                       "passes_l0": 256, "passes_l1": 4, "latency": 41.0}],
           "synth": [], "builds": [{"plan": "2x8,10", "gateware": "def5678", "status": "ok",
                                    "lut": 4253, "lut_pct": 80.5}]}
    text = markdown(res)
    assert "gateware abc1234;" in text
    assert "| 2x8,10 | abc1234 | 818 |" in text
    assert "| 2x8,10 | def5678 | ok | 4253 | 80.50 |" in text


def test_gateware_is_the_last_commit_that_changed_hdl():
    gw = gateware_version()
    last = subprocess.run(["git", "log", "-1", "--format=%h", "--", "hdl"],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert gw["commit"] == last
    assert gateware_note({"commit": "abc", "uncommitted_hdl": []}) == "gateware abc"
    assert gateware_note({"commit": "abc", "uncommitted_hdl": [" M hdl/x.py"]}) == \
        "gateware abc + 1 uncommitted hdl/ edits"
