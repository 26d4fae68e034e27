"""A data-free (STARS) config runs to the golden model like any other: a BN conv teacher, the
student and its QAT see only the synthetic pool (no real image, no label)."""

import json

import numpy as np
from spikefab.run import Context, RunDir, load_config, run_pipeline

TINY_STARS = """\
[run]
name = "tiny-stars"
dir = "{root}"

[teacher]
kind = "cnnbn"
channels = [4]
hidden = [16]
epochs = 2
augment_shift = 1

[student]
hidden = [8]

[distill]
method = "stars"

[distill.stars]
rounds = 2
batch_size = 20
steps_per_round = 5
iterations = 4
scales = [2]
adi = 1.0
augment_shift = 1
final_epochs = 2

[quantize]
method = "qat"
v_bits = 16
epochs = 1

[hardware]
sim_samples = 4
"""


def test_stars_config_with_a_conv_bn_teacher_and_qat_runs_to_export(tmp_path, monkeypatch):
    import spikefab.distill.deepinversion as di
    import spikefab.quant.qat as qat

    seen = {}
    real = qat.finetune_qat
    real_logits = di.DeepInversion.logits

    def logits_spy(self, params):
        seen["scales"], seen["latent"] = self.scales, tuple(params[0].shape[-2:])
        return real_logits(self, params)

    monkeypatch.setattr(di.DeepInversion, "logits", logits_spy)

    def spy(model, ds, cfg, **kw):
        seen["x_train"], seen["loss_fn"] = ds.x_train, kw.get("loss_fn")
        return real(model, ds, cfg, **kw)

    monkeypatch.setattr(qat, "finetune_qat", spy)
    path = tmp_path / "tiny-stars.toml"
    path.write_text(TINY_STARS.format(root=tmp_path / "runs"))
    cfg = load_config(path)
    run = RunDir.for_config(cfg)
    run.save_config(cfg, path.read_text())
    run_pipeline(Context(cfg, run, out=lambda s: None), until="export")
    student = json.loads(run.path("student", "student.json").read_text())
    assert student["synthetic"]["pool"] == 40
    assert seen["scales"] == (2,) and seen["latent"] == (4, 4)  # distill.stars.scales reached it
    with np.load(run.path("student", "synthetic.npz")) as z:
        pool = z["x"]
    # QAT fine-tuned on the synthetic pool with a teacher loss, not on the real images
    np.testing.assert_array_equal(seen["x_train"], pool)
    assert seen["loss_fn"] is not None
    golden = json.loads(run.path("ir", "golden.json").read_text())
    assert run.path("ir", "golden.npz").is_file() and golden
