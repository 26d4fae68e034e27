"""Run configs: TOML -> a validated, fully defaulted ``dict`` (``load_config``, ``check_config``).

Every key has a type, a default and a range; unknown sections or keys, wrong types and
impossible combinations raise a one-line ``ValueError`` naming the key as
``section.key`` (``docs/cli.md`` is the reference). The result is plain JSON-able data:
``cfg["student"]["timesteps"]`` and so on, with every default filled in.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from ..atomic import TextFileError, read_text
from ..data import DATASETS, IMAGE_SHAPES, MIX_MODES
from ..distill.options import OptionError, check_options
from ..distill.recipes import RECIPES
from ..protocol import DEFAULT_BAUD, MAX_BAUD, MIN_BAUD
from ..spec import B_BITS_RANGE, V_BITS_RANGE, W_BITS_RANGE
from ..train.config import TrainConfig
from .config_values import (
    MAX_LANES,
    _Bool,
    _Float,
    _Int,
    _Lanes,
    _List,
    _Or,
    _Str,
    _Table,
    lanes_arg,
)

__all__ = ["BOARDS", "DISTILL_METHODS", "MAX_IN_PACK", "MAX_LANES", "SCHEMA", "check_config",
           "config_text", "lanes_arg", "load_config", "student_kind", "student_train_config"]

#: Board names of ``spikefab_hdl.board.definitions.BOARDS`` (not imported: it needs amaranth; a test
#: checks the two agree).
BOARDS = ("icebreaker", "orangecrab-25f", "ulx3s-25f", "ulx3s-45f", "ulx3s-85f")
#: ``spikefab_hdl.core.input_pack.MAX_IN_PACK`` (checked equal by a test).
MAX_IN_PACK = 64
#: ``none`` trains the student on labels alone (``train.fit``); ``stars`` is data-free.
#: ``ckdsnn`` needs a conv student (``student.kind = "cnn"``) and a CNN teacher (its CAM).
DISTILL_METHODS = ("none", *RECIPES, "stars")
#: The largest synthetic pool (``distill.stars.rounds * batch_size`` images) STARS keeps.
MAX_STARS_POOL = 100_000
_NEEDS_TEACHER = ("hinton", "tser", "seal", "nld", "ckdsnn", "stars")
#: The student keys that describe one kind of student only.
_KIND_KEYS = {"hidden": "mlp", "channels": "cnn"}


_POS = _Int(1, 1 << 20)
_LR = _Float(0, 10, lo_open=True)

#: section -> key -> (checker, default). ``None`` defaults are filled in by ``check_config``.
SCHEMA = {
    "run": {"name": (_Str(pattern=True), None), "seed": (_Int(0, 2**32 - 1), 0),
            "dir": (_Str(), "build/runs")},
    "data": {"dataset": (_Str(DATASETS), "digits")},
    "teacher": {"kind": (_Str(("none", "mlp", "cnn", "cnnbn")), "mlp"),
                "hidden": (_List(_POS, min_len=1), [256, 256]),
                "channels": (_List(_POS, min_len=1), [32, 64]),
                "batch_norm": (_Bool(), True), "epochs": (_POS, 30),
                "batch_size": (_POS, 128), "lr": (_LR, 2e-3),
                "augment_shift": (_Int(0, 8), 0)},
    "student": {"kind": (_Str(("mlp", "cnn")), "mlp"),
                "hidden": (_List(_POS, min_len=1), [128]),
                "channels": (_List(_POS, min_len=1), [16, 32]), "timesteps": (_Int(1, 1024), 4),
                "leak_shift": (_Int(0, 31, words=("none",)), 3),
                "theta": (_Float(0, 1e6, lo_open=True), 1.0),
                "reset": (_Str(("subtract", "zero", "subtract-delayed")), "subtract"),
                "encoding": (_Str(("direct", "spikes")), "direct"),
                "in_bits": (_Int(1, 16), 4), "epochs": (_Int(1, 100_000), 40),
                "batch_size": (_POS, 64), "lr": (_LR, 5e-3),
                "weight_decay": (_Float(0, 1), 0.0), "augment_shift": (_Int(0, 8), 0),
                "beta": (_Or(_Float(0, 1)), "none"), "threshold": (_Str(("ge", "gt")), "ge"),
                "alpha": (_Or(_Float(0, 1)), "none"),
                "readout": (_Str(("current", "spikes")), "current")},
    "distill": {"method": (_Str(DISTILL_METHODS), "none"), "warmup": (_Float(0, 1), 0.0),
                "options": (_Table(), {})},
    "distill.stars": {"rounds": (_Int(1, 10_000), 4), "batch_size": (_Int(1, 4096), 64),
                      "steps_per_round": (_POS, 100), "iterations": (_Int(1, 20_000), 60),
                      "distill_batch": (_POS, 64), "lr": (_LR, 3e-3),
                      "synth_lr": (_LR, 0.1), "jitter": (_Int(0, 8, words=("auto",)), "auto"),
                      "r_feature": (_Float(0, 1e4), 1.0),
                      "first_bn_multiplier": (_Float(0, 1e4), 1.0),
                      "bn_relative": (_Bool(), False),
                      "scales": (_List(_Int(1, 64), min_len=1), [1]),
                      "adi": (_Float(0, 1e4), 0.0), "rca_weight": (_Float(-1e4, 1e4), 0.5),
                      "tar_weight": (_Float(0, 1e4), 0.3), "augment_shift": (_Int(0, 8), 0),
                      "final_epochs": (_Int(0, 100_000), 0),
                      "final_average": (_Int(0, 100_000), 0),
                      "augment_mix": (_Float(0, 1), 0.0),
                      "mix_mode": (_Str(MIX_MODES), "mixup"),
                      "mix_alpha": (_Float(0, 1e4, lo_open=True), 1.0)},
    "quantize": {"method": (_Str(("ptq", "qat")), "ptq"), "w_bits": (_Int(*W_BITS_RANGE), 8),
                 "b_bits": (_Int(*B_BITS_RANGE), 16),
                 "v_bits": (_Int(*V_BITS_RANGE, words=("auto",)), "auto"),
                 "epochs": (_Int(0, 100_000), 10), "lr": (_LR, 1e-3),
                 "decay_bits": (_Int(1, 16), 12), "i_bits": (_Int(2, 32, words=("auto",)), "auto")},
    "hardware": {"lanes": (_Lanes(), 4), "sim_samples": (_Int(0, 1 << 30), 0),
                 "baud": (_Int(MIN_BAUD, MAX_BAUD), DEFAULT_BAUD),
                 "in_pack": (_Int(1, MAX_IN_PACK), 1),
                 "trace": (_Bool(), True), "boards": (_List(_Str(BOARDS)), [])},
    "report": {"sweep_timesteps": (_List(_Int(1, 1024), min_len=1), [1, 2, 4, 8, 16]),
               "sweep_bits": (_List(_Int(*W_BITS_RANGE), min_len=1), [2, 3, 4, 5, 6, 8]),
               "raster_sample": (_Int(0, 1 << 30), 0)},
}


def _sections(doc: dict) -> dict:
    """Flatten ``{"distill": {"stars": {...}}}`` into ``{"distill.stars": {...}}``."""
    out = {}
    for name, body in doc.items():
        if name not in SCHEMA:
            allowed = ", ".join(s for s in SCHEMA if "." not in s)
            raise ValueError(f"config has no section [{name}]; allowed: {allowed}")
        if not isinstance(body, dict):
            raise ValueError(f"config key {name!r} must be a table [{name}], not {body!r}")
        body = dict(body)
        for sub in [s for s in SCHEMA if s.startswith(name + ".")]:
            leaf = sub.split(".", 1)[1]
            if leaf in body:
                if not isinstance(body[leaf], dict):
                    raise ValueError(f"config key {sub!r} must be a table [{sub}], "
                                     f"not {body[leaf]!r}")
                out[sub] = body.pop(leaf)
        out[name] = body
    return out


def check_config(doc: dict, *, default_name: str | None = None) -> dict:
    """Validate a parsed config and return it with every default filled in.

    Parameters
    ----------
    doc : dict
        As ``tomllib`` parses it (sections are tables).
    default_name : str, optional
        ``run.name`` when the config does not give one (``load_config``: the file's stem).
    """
    if not isinstance(doc, dict):
        raise TypeError(f"config must be a table, not {type(doc).__name__}")
    given = _sections(doc)
    cfg: dict = {}
    for section, keys in SCHEMA.items():
        body = given.get(section, {})
        unknown = sorted(set(body) - set(keys))
        if unknown:
            raise ValueError(f"config has no key '{section}.{unknown[0]}'; allowed in "
                             f"[{section}]: {', '.join(keys)}")
        cfg[section] = {k: (chk.check(f"{section}.{k}", body[k]) if k in body else
                            (list(dflt) if isinstance(dflt, list) else
                             dict(dflt) if isinstance(dflt, dict) else dflt))
                        for k, (chk, dflt) in keys.items()}
    if cfg["run"]["name"] is None:
        if default_name is None:
            raise ValueError("config key 'run.name' must be given (no file name to default to)")
        cfg["run"]["name"] = _SCHEMA_NAME.check("run.name", default_name)
    _check_kind_keys(cfg, given.get("student", {}))
    _check_combinations(cfg)
    return cfg


def _check_kind_keys(cfg: dict, given: dict) -> None:
    """``student.hidden`` belongs to an MLP student, ``student.channels`` to a conv one; the
    effective config keeps only its own student's keys (an MLP's has no ``kind`` either, so
    it reads, and fingerprints, exactly as before conv students existed)."""
    st = cfg["student"]
    kind = st["kind"]
    for key, owner in _KIND_KEYS.items():
        if key in given and owner != kind:
            other = next(k for k, o in _KIND_KEYS.items() if o == kind)
            raise ValueError(f"config key 'student.{key}' describes a student.kind {owner!r} "
                             f"student, not a {kind!r} one (whose shape is student.{other})")
    for key, owner in _KIND_KEYS.items():
        if owner != kind:
            del st[key]
    if kind == "mlp":
        del st["kind"]


def student_kind(cfg: dict) -> str:
    """``student.kind`` of an effective config (``"mlp"`` when it has none)."""
    return cfg["student"].get("kind", "mlp")


_SCHEMA_NAME = _Str(pattern=True)


def _check_combinations(cfg: dict) -> None:
    st, dist, tea, q = cfg["student"], cfg["distill"], cfg["teacher"], cfg["quantize"]
    method = dist["method"]
    if st["encoding"] == "spikes" and st["in_bits"] != 1:
        raise ValueError(f"config key 'student.in_bits' must be 1 when student.encoding is "
                         f"'spikes', not {st['in_bits']!r}")
    if method in _NEEDS_TEACHER and tea["kind"] == "none":
        raise ValueError(f"config key 'teacher.kind' must not be 'none' when distill.method "
                         f"is {method!r} (it distils from a teacher)")
    if student_kind(cfg) == "cnn":
        _check_conv_student(st, cfg["data"]["dataset"])
    if method == "ckdsnn" and student_kind(cfg) != "cnn":
        raise ValueError("config key 'student.kind' must be 'cnn' when distill.method is "
                         "'ckdsnn' (SAMD matches a conv student's feature maps), not 'mlp'")
    if method == "ckdsnn" and tea["kind"] != "cnn":
        raise ValueError(f"config key 'teacher.kind' must be 'cnn' when distill.method is "
                         f"'ckdsnn' (SAMD needs the teacher's class activation maps), not "
                         f"{tea['kind']!r}")
    if method == "stars" and tea["kind"] == "mlp" and not tea["batch_norm"]:
        raise ValueError("config key 'teacher.batch_norm' must be true when distill.method is "
                         "'stars' (synthesis matches the teacher's BatchNorm statistics)")
    stars = cfg["distill.stars"]
    if method == "stars" and stars["rounds"] * stars["batch_size"] > MAX_STARS_POOL:
        raise ValueError(f"config key 'distill.stars.rounds' times distill.stars.batch_size "
                         f"(the synthetic pool) must be <= {MAX_STARS_POOL}, not "
                         f"{stars['rounds']} x {stars['batch_size']}")
    if method == "stars":
        _check_stars_scales(stars["scales"], cfg["data"]["dataset"])
    if method == "stars" and stars["final_average"] > stars["final_epochs"]:
        raise ValueError(f"config key 'distill.stars.final_average' must be <= "
                         f"distill.stars.final_epochs ({stars['final_epochs']}), not "
                         f"{stars['final_average']!r}")
    if method != "none" and st["encoding"] == "spikes":
        raise ValueError(f"config key 'distill.method' must be 'none' when student.encoding is "
                         f"'spikes' (the distillation trainer takes static inputs), not "
                         f"{method!r}")
    if method == "stars" and st["augment_shift"]:
        raise ValueError(f"config key 'student.augment_shift' must be 0 when distill.method is "
                         f"'stars' (the student sees only synthetic images), not "
                         f"{st['augment_shift']!r}")
    if method in ("none", "stars") and dist["options"]:
        raise ValueError(f"config key 'distill.options' must be empty when distill.method is "
                         f"{method!r}, not {dist['options']!r}")
    if method not in ("none", "stars"):
        _check_distill_options(method, dist["options"], st)
    _check_in_pack(cfg)
    if q["method"] == "qat" and q["v_bits"] == "auto":
        raise ValueError("config key 'quantize.v_bits' must be an integer when quantize.method "
                         "is 'qat', not 'auto'")
    if q["method"] == "qat" and q["epochs"] < 1:
        raise ValueError(f"config key 'quantize.epochs' must be >= 1 when quantize.method is "
                         f"'qat', not {q['epochs']!r}")
    try:
        student_train_config(cfg)
    except ValueError as e:  # TrainConfig.<field> -> student.<field>
        raise ValueError(str(e).replace("TrainConfig.", "config key 'student.", 1)
                         .replace(" must", "' must", 1)) from None


def _check_stars_scales(scales: list, dataset: str) -> None:
    """``distill.stars.scales``: the synthesis' logit pyramid (``DeepInversion.scales``)."""
    h, w = IMAGE_SHAPES[dataset]
    if len(set(scales)) != len(scales) or any(h % s or w % s for s in scales):
        raise ValueError(f"config key 'distill.stars.scales' must be distinct integers dividing "
                         f"the image size {h}x{w} of {dataset}, not {scales!r}")


def _check_in_pack(cfg: dict) -> None:
    """``hardware.in_pack``: direct input only; a conv student's beats stay in one image row
    (``spikefab_hdl.core.input_pack.check_in_pack``, which the IR's steps apply again)."""
    pack, st = cfg["hardware"]["in_pack"], cfg["student"]
    if pack > 1 and st["encoding"] == "spikes":
        raise ValueError(f"config key 'hardware.in_pack' must be 1 when student.encoding is "
                         f"'spikes' (a spike beat carries one address), not {pack!r}")
    width = IMAGE_SHAPES[cfg["data"]["dataset"]][1]
    if pack > 1 and student_kind(cfg) == "cnn" and width % pack:
        raise ValueError(f"config key 'hardware.in_pack' must divide the image width {width} "
                         f"when student.kind is 'cnn' (a beat holds values of one image row), "
                         f"not {pack!r}")


def _check_conv_student(st: dict, dataset: str) -> None:
    """What ``SpikingCNN`` trains: v1's neurons, stages that fit the dataset's images."""
    for key, plain in (("beta", "none"), ("alpha", "none"), ("threshold", "ge"),
                       ("readout", "current")):
        if st[key] != plain:
            raise ValueError(f"config key 'student.{key}' must be {plain!r} for a conv "
                             f"student (student.kind 'cnn'), not {st[key]!r}")
    h, w = IMAGE_SHAPES[dataset]
    most = 0
    while min(h, w) >= 2:
        most, h, w = most + 1, h // 2, w // 2
    if len(st["channels"]) > most:
        hh, ww = IMAGE_SHAPES[dataset]
        raise ValueError(f"config key 'student.channels' has {len(st['channels'])} conv "
                         f"stages, too many for {dataset}' 1x{hh}x{ww} images (each stage "
                         f"halves H and W; at most {most})")


def _check_distill_options(method: str, options: dict, st: dict) -> None:
    """``distill.options`` against the recipe's own signature and checks (before training)."""
    try:
        check_options(method, options, timesteps=st["timesteps"])
    except OptionError as e:
        if e.option is None:
            raise ValueError(f"config key 'distill.options' is refused by distill.method "
                             f"{method!r}: {e.problem}") from None
        raise ValueError(f"config key 'distill.options.{e.option}' {e.problem}") from None
    layer = options.get("layer", 0)
    shape = "channels" if "channels" in st else "hidden"
    if method == "tssd" and not 0 <= layer < len(st[shape]):
        what = "conv stage" if shape == "channels" else "student.hidden layer"
        raise ValueError(f"config key 'distill.options.layer' must be an integer in "
                         f"[0, {len(st[shape]) - 1}] (a {what}), not {layer!r}")


def student_train_config(cfg: dict) -> TrainConfig:
    """The ``TrainConfig`` of the float student described by ``cfg``."""
    st = cfg["student"]
    return TrainConfig(
        dataset=cfg["data"]["dataset"], hidden=tuple(st.get("hidden", (128,))),
        timesteps=st["timesteps"],
        leak_shift=None if st["leak_shift"] == "none" else st["leak_shift"],
        theta=st["theta"], reset=st["reset"], encoding=st["encoding"], in_bits=st["in_bits"],
        epochs=st["epochs"], batch_size=st["batch_size"], lr=st["lr"],
        weight_decay=st["weight_decay"], augment_shift=st["augment_shift"],
        seed=cfg["run"]["seed"],
        beta=None if st.get("beta", "none") == "none" else st["beta"],
        threshold=st.get("threshold", "ge"),
        alpha=None if st.get("alpha", "none") == "none" else st["alpha"],
        readout=st.get("readout", "current"),
        kind=student_kind(cfg),
        channels=tuple(st.get("channels", (16, 32))),
    )


def config_text(path) -> str:
    """The text of the config file at ``path``: UTF-8, a leading BOM dropped (Windows editors
    write one; TOML has none). A binary or unreadable file is a one-line ``ValueError``."""
    try:
        return read_text(path).removeprefix("\ufeff")
    except TextFileError as e:
        raise ValueError(f"config {path}: {e}") from None


def load_config(path) -> dict:
    """Read and validate the TOML config at ``path`` (``run.name`` defaults to its stem)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"config {path}: file not found")
    try:
        doc = tomllib.loads(config_text(path))
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"config {path}: invalid TOML: {e}") from None
    try:
        return check_config(doc, default_name=path.stem)
    except ValueError as e:
        raise ValueError(f"config {path}: {e}") from None
