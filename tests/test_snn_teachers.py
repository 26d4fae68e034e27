"""ANN teachers: shapes, CAM == ReLU(W_fc[y_hat] . F), Grad-CAM proportionality, freezing."""

import numpy as np
import pytest
import torch
from spikefab.data import load_dataset
from spikefab.snn.teachers import (
    CNNTeacher,
    ConvBNTeacher,
    MLPTeacher,
    freeze,
    recompute_bn_stats,
    train_teacher,
)
from spikefab.train.threads import torch_threads


def test_mlp_teacher_shapes_batchnorm_and_features():
    t = MLPTeacher((64, 32, 16, 10), batch_norm=True)
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in t.modules()) == 2
    logits, feat = t.features(torch.rand(4, 64))
    assert logits.shape == (4, 10) and feat.shape == (4, 16)
    assert t(torch.rand(4, 1, 8, 8)).shape == (4, 10)


def test_cnn_teacher_cam_is_relu_of_class_weighted_features_and_grad_cam_agrees():
    torch.manual_seed(0)
    t = freeze(CNNTeacher((1, 8, 8), (4, 6), 10))
    x = torch.rand(3, 64)
    logits, cam = t.cam(x)
    _, fmap = t.features(x)
    assert cam.shape == (3, 2, 2)
    for b in range(3):
        w = t.fc.weight[logits[b].argmax()]
        expected = torch.relu((w[:, None, None] * fmap[b]).sum(0))
        np.testing.assert_allclose(cam[b].numpy(), expected.detach().numpy(), rtol=1e-6)
    # Grad-CAM: weights = spatial mean of d score / d F = W_fc[y] / (H W)
    fm = fmap.detach().requires_grad_()
    score = t.fc(fm.mean(dim=(2, 3)))
    score.gather(1, logits.argmax(1, keepdim=True)).sum().backward()
    alpha = fm.grad.mean(dim=(2, 3))
    grad_cam = torch.relu((alpha[:, :, None, None] * fm.detach()).sum(1))
    np.testing.assert_allclose(grad_cam.numpy() * 4, cam.numpy(), rtol=1e-5, atol=1e-7)


def test_freeze_sets_eval_and_no_grad():
    t = freeze(MLPTeacher((8, 4, 2), batch_norm=True))
    assert not t.training and not any(p.requires_grad for p in t.parameters())


def test_train_teacher_learns_digits():
    ds = load_dataset("digits", seed=0)
    torch.manual_seed(0)
    with torch_threads(1):
        t = train_teacher(MLPTeacher((64, 64, 10), batch_norm=True),
                          torch.from_numpy(ds.x_train), torch.from_numpy(ds.y_train), epochs=8,
                          seed=0)
    acc = float((t(torch.from_numpy(ds.x_test)).argmax(1).numpy() == ds.y_test).mean())
    assert acc > 0.9
    assert not t.training


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"^MLPTeacher.sizes must be a sequence of >= 2 "
                       r"positive integers, not \(64,\)$"):
        MLPTeacher((64,))
    with pytest.raises(ValueError, match=r"^CNNTeacher.image_shape must be \(C, H, W\), "
                       r"not \(1, 2, 8, 8\)$"):
        CNNTeacher((1, 2, 8, 8))


def test_recompute_bn_stats_is_the_batch_average_of_the_given_images():
    bn = torch.nn.BatchNorm1d(3)
    model = torch.nn.Sequential(torch.nn.Identity(), bn)
    x = torch.rand(40, 3) * torch.tensor([1.0, 2.0, 3.0]) + torch.tensor([0.0, 1.0, -1.0])
    w = bn.weight.detach().clone()
    recompute_bn_stats(model, x, batch_size=20)
    halves = x.view(2, 20, 3)
    torch.testing.assert_close(bn.running_mean, halves.mean(1).mean(0))
    torch.testing.assert_close(bn.running_var, halves.var(1, unbiased=True).mean(0))
    assert not model.training and torch.equal(bn.weight, w)


def test_train_teacher_recalibrate_bn_gives_the_statistics_of_the_unshifted_images():
    ds = load_dataset("digits", seed=0)
    x, y = torch.from_numpy(ds.x_train[:256]), torch.from_numpy(ds.y_train[:256])

    def trained(recal):
        torch.manual_seed(0)
        with torch_threads(1):
            return train_teacher(ConvBNTeacher((1, 8, 8), (4,), (8,), 10), x, y, epochs=2,
                                 seed=0, augment_shift=2, image_shape=(1, 8, 8),
                                 recalibrate_bn=recal)

    shifted, recal = trained(False), trained(True)
    # the same weights: only the running statistics differ
    for (name, a), b in zip(shifted.state_dict().items(), recal.state_dict().values(),
                            strict=True):
        if "running" in name:
            assert not torch.equal(a, b), name
        elif "num_batches" not in name:
            assert torch.equal(a, b), name
    bn0 = recal.net[1]
    # the first BN's input is conv(x): its running mean is that of the unshifted images
    with torch.no_grad():
        fmap = recal.net[0](x.view(-1, 1, 8, 8))
    torch.testing.assert_close(bn0.running_mean, fmap.mean((0, 2, 3)))
    assert not recal.training
