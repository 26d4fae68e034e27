"""bench/hw_conv_report.py's pure helpers: the UP5K front and issue 24's targets (the bench
itself builds bitstreams and is not run here)."""

from hw_conv import merge  # bench/ is on pytest's pythonpath
from hw_conv_report import front, markdown, targets


def _row(net, lanes, acc, us, lut=70.0, board="icebreaker"):
    return {"net": net, "board": board, "lanes": lanes, "status": "ok", "golden_acc": acc,
            "latency_us": us, "latency_us_fmax": us, "clock_mhz": 30.0, "clock_source": "PLL",
            "fmax_mhz": 31.0, "cycles_mean": us * 30,
            "resources": {k: {"used": 1, "available": 2, "percent": lut}
                          for k in ("lut", "ff", "bram", "spram", "dsp")}}


def _net(net, lanes, agree="10/10", images=10, test_images=10):
    return {"net": net, "config": "c.toml", "lanes": lanes, "spram": {0: {"membranes": 2}},
            "sizes": [784, 10], "timesteps": 4, "n_weights": 100, "golden_acc": 0.96,
            "rtl_acc": 0.96, "test_images": test_images, "images": images,
            "rtl_agree": agree, "rtl_all_agree": agree == f"{images}/{images}",
            "cycles_mean": 100.0, "cycles_max": 120, "bound_ratio_max": 0.9}


def test_the_front_keeps_the_designs_no_other_beats_on_both_axes():
    rows = [_row("mnist5k_a", 4, 0.957, 400), _row("mnist5k_a", 2, 0.957, 700),
            _row("mnist5k_b", 1, 0.981, 30000), _row("mnist5k_c", 4, 0.92, 300),
            _row("mnist5k_d", 4, 0.95, 500), _row("digits_conv", 2, 0.99, 100),
            _row("mnist5k_e", 8, 0.999, 1, board="ulx3s-25f"),
            {"net": "mnist5k_f", "board": "icebreaker", "lanes": 8, "status": "does not fit"}]
    assert [(r["net"], r["lanes"]) for r in front(rows)] == [
        ("mnist5k_a", 4), ("mnist5k_b", 1), ("mnist5k_c", 4)]


def test_the_targets_pass_and_fail_on_the_measured_numbers():
    nets = [_net("mnist5k_a", 4), _net("digits_conv", 2)]
    rows = [_row("mnist5k_a", 4, 0.957, 400), _row("mnist5k_b", 1, 0.981, 30000, lut=84.9),
            _row("digits_conv", 2, 0.9806, 100)]
    got = {t["target"].split(" ")[0] + str(i): t["pass"] for i, t in
           enumerate(targets(nets, rows))}
    assert list(got.values()) == [True, True, True, True, True]
    # a design over 85 % of the LUTs, no design under Spiker+'s latency, a mismatch
    rows2 = [_row("mnist5k_a", 4, 0.957, 800), _row("mnist5k_b", 1, 0.97, 30000, lut=85.1),
             _row("digits_conv", 2, 0.97, 100)]
    t = targets([_net("mnist5k_a", 4, agree="9/10")], rows2)
    assert [x["pass"] for x in t] == [False, False, False, False, False]
    assert t[3]["measured"] == "none" and t[4]["measured"] == "mnist5k_a/l4 9/10"
    # every prediction must be compared: a subset of the test split does not pass
    t = targets([_net("mnist5k_a", 4, images=10, test_images=1000)], rows)
    assert not t[4]["pass"] and t[4]["measured"].endswith("(not the whole test split)")


def test_the_page_lists_every_row_and_the_targets():
    nets = [_net("mnist5k_a", 4)]
    rows = [_row("mnist5k_a", 4, 0.957, 400),
            {"net": "mnist5k_f", "board": "icebreaker", "lanes": 8,
             "status": "does not fit: network too large"}]
    page = markdown({"nets": nets, "boards": rows, "targets": targets(nets, rows),
                     "gateware": {"commit": "abc", "uncommitted_hdl": []}, "wall_s": 1.0})
    assert "| mnist5k_a lanes 4 | 4 | 95.70% | 400.0 | 30 | 70.0 | better on both |" in page
    assert "| mnist5k_f | icebreaker | 8 | abc | does not fit: network too large |" in page
    assert "- **PASS** a UP5K design beats Spiker+" in page


def test_a_subset_run_replaces_its_rows_and_keeps_the_others_with_their_gateware():
    def key(r):
        return r["net"], r["board"], r["lanes"]

    old = [{**_row("mnist5k_a", 2, 0.95, 700), "gateware": "aaa"},
           _row("mnist5k_b", 2, 0.95, 600),  # saved before rows had their own gateware
           _row("mnist5k_a", 8, 0.95, 50, board="ulx3s-25f")]
    new = [{**_row("mnist5k_a", 2, 0.96, 500), "gateware": "ccc"},
           {**_row("mnist5k_c", 2, 0.90, 300), "gateware": "ccc"}]
    rows = merge(old, new, key, "bbb")
    assert [(r["net"], r["board"], r["lanes"], r["gateware"], r["latency_us"]) for r in rows] == [
        ("mnist5k_a", "icebreaker", 2, "ccc", 500), ("mnist5k_b", "icebreaker", 2, "bbb", 600),
        ("mnist5k_a", "ulx3s-25f", 8, "bbb", 50), ("mnist5k_c", "icebreaker", 2, "ccc", 300)]
    page = markdown({"nets": [], "boards": rows, "targets": targets([], rows),
                     "gateware": {"commit": "ccc", "uncommitted_hdl": []}, "wall_s": 1.0})
    assert "| mnist5k_b | icebreaker | 2 | bbb | ok | 70.0 |" in page
