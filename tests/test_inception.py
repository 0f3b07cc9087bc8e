import pytest
import torch
import torchvision

from detector.classifier import (
    CheckpointError,
    ClassifierSpec,
    build_classifier,
    load_ensemble,
    load_member,
    load_torchvision_weights,
    save_member,
)
from detector.data.vocab import ilsvrc_categories
from detector.nn.inception import GoogLeNetOutputs, build_googlenet, count_params_and_macs

def test_paper_counts():
    """Weights (no biases, no auxiliary heads, 1000 classes) and multiply-adds of convolutions and the classifier
    at 224×224 — the two columns of Table 1."""
    params, macs = count_params_and_macs(build_googlenet(num_classes=1000))
    assert params == pytest.approx(6.8e6, rel=0.03)  # ours: 6.99 M
    # Table 1's conv1 row (2.7 K weights, 34 M ops) disagrees with its own shape, 7×7×3×64 = 9.4 K weights at
    # 112×112 = 118 M multiply-adds; with that row corrected the table sums to 1.586 G
    assert macs == pytest.approx(1502e6 - 34e6 + 118e6, rel=0.03)  # ours: 1.583 G
    assert macs == pytest.approx(1.5e9, rel=0.06)  # the paper's rounded "1.5 billion"


@pytest.mark.parametrize("size", [96, 128, 224])
@pytest.mark.parametrize("bn", [False, True])
def test_shapes_with_and_without_aux(size, bn):
    m = build_googlenet(num_classes=7, batch_norm=bn, width=0.25)
    x = torch.randn(2, 3, size, size)
    m.train()
    out = m(x)
    assert isinstance(out, GoogLeNetOutputs)
    assert out.logits.shape == out.aux1.shape == out.aux2.shape == (2, 7)
    m.eval()
    with torch.no_grad():
        y = m(x)
    assert y.shape == (2, 7) and torch.isfinite(y).all()
    m2 = build_googlenet(num_classes=7, batch_norm=bn, aux_logits=False, width=0.25).train()
    assert m2(x).shape == (2, 7)
    assert m2.forward_trunk(x).shape[1] == m2.trunk_channels


def test_full_width_224_shapes():
    m = build_googlenet(num_classes=201).eval()
    with torch.no_grad():
        assert m.forward_trunk(torch.zeros(1, 3, 224, 224)).shape == (1, 832, 14, 14)
        assert m.forward_features(torch.zeros(1, 3, 224, 224)).shape == (1, 1024, 7, 7)


def small_spec(**kw):
    return ClassifierSpec(**{"arch": "paper-bn", "num_classes": 3, "input_size": 96, "width": 0.25, **kw})


CLASSES = [ilsvrc_categories()[123], ilsvrc_categories()[57]]  # person, dog


def test_checkpoint_round_trip(tmp_path):
    spec = small_spec(bbox_reg=True)
    m = build_classifier(spec).eval()
    p = save_member(tmp_path / "m.pt", m, spec, CLASSES, train={"epochs": 3})
    raw = torch.load(p, weights_only=True)  # plain data: no arbitrary pickle needed
    assert raw["format"] == "detect-classifier/1" and raw["classes"][0]["wnid"] == "n00007846"
    loaded = load_member(p)
    assert loaded.spec == spec and [c.name for c in loaded.classes] == ["person", "dog"]
    assert loaded.train == {"epochs": 3}
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x), m(x))


def test_checkpoint_half_storage(tmp_path):
    torch.manual_seed(0)
    spec = small_spec()
    m = build_classifier(spec).eval()
    full = save_member(tmp_path / "f.pt", m, spec, CLASSES)
    half = save_member(tmp_path / "h.pt", m, spec, CLASSES, half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        # float16 weights: class probabilities agree to within a few thousandths
        torch.testing.assert_close(load_member(half).model(x).softmax(1), m(x).softmax(1), atol=5e-3, rtol=0)


def test_bad_checkpoints(tmp_path):
    p = tmp_path / "x.pt"
    p.write_bytes(b"not a model")
    with pytest.raises(CheckpointError, match="x.pt"):
        load_member(p)
    torch.save({"format": "something-else"}, p)
    with pytest.raises(CheckpointError, match="not a detect-classifier/1"):
        load_member(p)
    with pytest.raises(CheckpointError, match="no such file"):
        load_member(tmp_path / "none.pt")


def test_ensemble_folder_and_class_mismatch(tmp_path):
    spec = small_spec()
    for i in range(2):
        torch.manual_seed(i)
        save_member(tmp_path / "ens" / f"m{i}.pt", build_classifier(spec), spec, CLASSES)
    members = load_ensemble([tmp_path / "ens"])
    assert len(members) == 2
    save_member(tmp_path / "other.pt", build_classifier(spec), spec, CLASSES[::-1])
    with pytest.raises(CheckpointError, match="classes differ"):
        load_ensemble([tmp_path / "ens", tmp_path / "other.pt"])
    (tmp_path / "link.pt").symlink_to(tmp_path / "ens" / "m1.pt")
    with pytest.raises(CheckpointError, match=r"link\.pt: given twice as an ensemble member \(also as .*ens/m1\.pt"):
        load_ensemble([tmp_path / "ens", tmp_path / "link.pt"])
    import shutil

    shutil.copy(tmp_path / "ens" / "m0.pt", tmp_path / "copy.pt")  # a copy (or a hard link): the same member
    with pytest.raises(CheckpointError, match=r"copy\.pt: given twice as an ensemble member \(also as .*m0\.pt: the "
                                              r"same bytes\)"):
        load_ensemble([tmp_path / "ens", tmp_path / "copy.pt"])


def test_torchvision_weights_loading_path(tmp_path):
    """The ImageNet loading path, with a state dict saved from a randomly initialised torchvision googlenet."""
    torch.manual_seed(0)
    tv = torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=True)
    torch.save(tv.state_dict(), tmp_path / "googlenet.pth")
    spec = ClassifierSpec(arch="torchvision", num_classes=3, input_size=96)
    m = build_classifier(spec)
    skipped = load_torchvision_weights(m, tmp_path / "googlenet.pth")
    assert set(skipped) == {"fc.weight", "fc.bias", "aux1.fc2.weight", "aux1.fc2.bias", "aux2.fc2.weight",
                            "aux2.fc2.bias"}
    torch.testing.assert_close(m.backbone.net.conv1.conv.weight, tv.conv1.conv.weight)
    torch.testing.assert_close(m.backbone.net.inception5b.branch4[1].conv.weight,
                               tv.inception5b.branch4[1].conv.weight)
    m.train()
    out = m(torch.randn(2, 3, 96, 96))
    assert out.logits.shape == out.aux1.shape == (2, 3)
    with pytest.raises(CheckpointError, match="--arch torchvision"):
        load_torchvision_weights(build_classifier(small_spec()), tmp_path / "googlenet.pth")
