"""bench/hw_lanes.py's table (the bench itself builds bitstreams and is not run here)."""

from hw_lanes import markdown  # bench/ is on pytest's pythonpath


def _res(lut, dsp):
    return {"lut": {"used": lut, "available": 24288}, "dsp": {"used": dsp, "available": 28},
            "bram": {"used": 18, "available": 56}}


def test_rows_show_both_versions_and_what_stopped_one():
    rows = [
        {"net": "digits", "board": "ulx3s-25f", "lanes": 64, "gateware": "old",
         "status": "FitError: network does not fit ulx3s-25f: DSP multipliers 64 used > 28",
         "resources": _res(20991, 64), "clock": None, "build_seconds": 581.0, "wall_s": 600},
        {"net": "digits", "board": "ulx3s-25f", "lanes": 64, "gateware": "new", "status": "ok",
         "resources": _res(23503, 28), "clock": {"fmax_mhz": 80.0}, "build_seconds": 900.0,
         "cycles_mean": 400.0, "rtl_agree": "100/100", "wall_s": 1000},
    ]
    missing = [{"net": "mnist5k", "board": "ulx3s-85f", "lanes": 128, "gateware": "new"}]
    text = markdown(rows, missing, {"images": 100, "gateware": ["old", "new"]})
    old, new = (ln for ln in text.splitlines() if ln.startswith("| digits"))
    assert "| 64/28 |" in old and "DSP multipliers 64 used > 28" in old and "| - | - |" in old
    assert "| 23503/24288 | 28/28 | 18/56 | 80.0 | 400 | 5.00 | 100/100 | 900 |" in new
    assert "Not measured yet: mnist5k:ulx3s-85f:128@new." in text
    assert "1,600 s" in text
