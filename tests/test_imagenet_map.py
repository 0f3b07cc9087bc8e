"""The ImageNet-1k → ILSVRC DET mapping (detector/data/imagenet.py) and members whose outputs are mapped."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from detector.data.imagenet import imagenet_classes, leaf_matrix
from detector.nn.imagenet_map import mapped_log_likelihood, mapped_probabilities
from detector.data.vocab import ilsvrc_by_wnid, ilsvrc_categories

DOG = ilsvrc_by_wnid()["n02084071"]  # det_id 58
PERSON = ilsvrc_by_wnid()["n00007846"]  # det_id 124


def _index(wnid: str) -> int:
    return next(c.index for c in imagenet_classes() if c.wnid == wnid)


def test_thousand_classes_in_sorted_wnid_order_not_devkit_order():
    cls = imagenet_classes()
    assert len(cls) == 1000
    assert [c.index for c in cls] == list(range(1000))
    assert [c.wnid for c in cls] == sorted(c.wnid for c in cls)
    # PyTorch's order starts with the tench; the devkit numbers the kit fox 1 (meta_clsloc.mat, ILSVRC2014_ID)
    assert cls[0].wnid == "n01440764" and cls[0].name == "tench"
    kit_fox = cls[_index("n02119789")]
    assert kit_fox.ilsvrc2014_id == 1 and kit_fox.index == 278
    assert sorted(c.ilsvrc2014_id for c in cls) == list(range(1, 1001))


def test_dog_breeds_and_people_map_to_their_det_class():
    cls = imagenet_classes()
    assert cls[_index("n02106030")].det_id == DOG.det_id  # collie
    assert cls[_index("n02085620")].det_id == DOG.det_id  # Chihuahua
    for wnid in ("n09835506", "n10148035", "n10565667"):  # ballplayer, groom, scuba diver
        assert cls[_index(wnid)].det_id == PERSON.det_id
    assert cls[_index("n01440764")].det_id is None  # tench: no DET class holds it
    assert sum(c.det_id == DOG.det_id for c in cls) == 118


def test_every_det_class_reachable_and_483_leaves_mapped():
    m = leaf_matrix(ilsvrc_categories())
    assert m.shape == (1000, 201)
    assert (m.sum(axis=1) == 1).all()  # every leaf goes to exactly one column
    assert (m[:, 1:].sum(axis=0) >= 1).all()  # every DET class has at least one leaf
    assert int(m[:, 1:].sum()) == 483 and int(m[:, 0].sum()) == 517


def test_leaf_matrix_follows_the_model_class_order():
    classes = (PERSON, DOG)
    m = leaf_matrix(classes)
    assert m.shape == (1000, 3)
    assert m[_index("n02106030"), 2] == 1 and m[_index("n10148035"), 1] == 1
    assert m[:, 0].sum() == 1000 - 118 - 3  # background: everything else


def test_mapped_probabilities_sum_leaves():
    m = torch.from_numpy(leaf_matrix((PERSON, DOG)))
    logits = torch.full((2, 1000), -20.0)
    logits[0, _index("n02106030")] = 5.0  # a collie
    logits[1, _index("n02106030")] = 3.0  # two dog breeds and a tench
    logits[1, _index("n02085620")] = 3.0
    logits[1, _index("n01440764")] = 3.0
    p = mapped_probabilities(logits, m)
    assert p.shape == (2, 3)
    torch.testing.assert_close(p.sum(1), torch.ones(2))
    assert p[0, 2] > 0.99
    expected = torch.softmax(logits[1], 0)[[_index("n02106030"), _index("n02085620")]].sum()
    torch.testing.assert_close(p[1, 2], expected)
    assert abs(float(p[1, 0]) - 1 / 3) < 1e-3


def test_mapped_log_likelihood_is_the_log_of_the_mapped_probability_and_keeps_a_gradient():
    m = torch.from_numpy(leaf_matrix(ilsvrc_categories()))
    g = torch.Generator().manual_seed(0)
    logits = (torch.randn(6, 1000, generator=g) * 3).requires_grad_(True)
    labels = torch.tensor([0, 58, 124, 1, 200, 58])
    ll = mapped_log_likelihood(logits, labels, m)
    ref = torch.log(mapped_probabilities(logits.detach(), m)[torch.arange(6), labels])
    torch.testing.assert_close(ll.detach(), ref, rtol=1e-5, atol=1e-5)
    # a hopeless prediction (the label's leaves at -1000) still moves towards the label
    bad = torch.zeros(1, 1000)
    bad[0, m[:, 58].bool()] = -1000.0
    bad.requires_grad_(True)
    mapped_log_likelihood(bad, torch.tensor([58]), m).sum().backward()
    assert bad.grad[0, m[:, 58].bool()].sum() > 0.99


@pytest.mark.realdata
def test_package_table_equals_a_fresh_derivation_from_the_devkit(shared_data, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "map.tsv"
    subprocess.run([sys.executable, str(root / "scripts" / "make_imagenet_map.py"), "--meta",
                    str(shared_data / "ilsvrc2014_det" / "meta_clsloc.mat"), "--out", str(out)], check=True,
                   cwd=root, capture_output=True)
    assert out.read_text() == (root / "detector" / "data" / "imagenet1k_det.tsv").read_text()


def test_mapped_member_scores_det_classes_through_the_pipeline():
    from detector.classifier import ClassifierSpec, Member, build_classifier
    from detector.pipeline import Detector

    spec = ClassifierSpec(arch="paper-bn", num_classes=1000, input_size=96, width=0.125, class_map="imagenet1k",
                          aux_logits=False)
    torch.manual_seed(0)
    model = build_classifier(spec).eval()
    member = Member(model, spec, (PERSON, DOG), {})
    det = Detector(None, [member], batch_size=4, backend="torch")
    image = np.random.default_rng(0).integers(0, 255, (60, 80, 3), dtype=np.uint8)
    boxes = torch.tensor([[0, 0, 40, 40], [10, 10, 70, 50.0]])
    probs, _ = det.score_regions(image, boxes)
    with torch.no_grad():
        logits = model(torch.stack([torch.zeros(3, 96, 96)]))  # any input: the mapping is what is checked
    assert probs.shape == (2, 3)
    torch.testing.assert_close(probs.sum(1), torch.ones(2))
    assert member.probabilities(logits).shape == (1, 3)
