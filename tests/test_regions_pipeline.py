import numpy as np
import pytest
import torch

from detector.classifier import ClassifierSpec, Member, build_classifier
from detector.data.vocab import ilsvrc_categories
from detector.pipeline import Detector, PostprocessConfig, apply_box_deltas, postprocess
from detector.nn.transforms import normalize_image
from detector.regions import WarpConfig, expand_boxes, warp_regions


def slow_warp(img: np.ndarray, box, size, pad):
    """Reference: grow the box, then sample every output pixel centre bilinearly, zero outside the image."""
    c, h, w = img.shape
    b = expand_boxes(torch.tensor([box], dtype=torch.float64), size, pad)[0].numpy()
    out = np.zeros((c, size, size))
    bw, bh = (b[2] - b[0]) / size, (b[3] - b[1]) / size
    padded = np.zeros((c, h + 2, w + 2))
    padded[:, 1:-1, 1:-1] = img
    for i in range(size):
        for j in range(size):
            x = b[0] + (j + 0.5) * bw - 0.5 + 1  # pixel-index coordinates in the padded image
            y = b[1] + (i + 0.5) * bh - 0.5 + 1
            if not (0 <= x <= w + 1 and 0 <= y <= h + 1):
                continue
            x0, y0 = int(np.floor(x)), int(np.floor(y))
            x1, y1 = min(x0 + 1, w + 1), min(y0 + 1, h + 1)
            fx, fy = x - x0, y - y0
            out[:, i, j] = (padded[:, y0, x0] * (1 - fx) * (1 - fy) + padded[:, y0, x1] * fx * (1 - fy)
                            + padded[:, y1, x0] * (1 - fx) * fy + padded[:, y1, x1] * fx * fy)
    return out


def test_warp_matches_slow_reference():
    rng = np.random.default_rng(0)
    img = rng.normal(size=(3, 23, 31)).astype(np.float32)
    boxes = [[2.0, 3.0, 20.0, 15.0], [0.0, 0.0, 31.0, 23.0], [25.5, 10.2, 40.0, 30.0], [-5.0, -3.0, 6.0, 4.0]]
    cfg = WarpConfig(size=12, context_pad=2)
    fast = warp_regions(torch.from_numpy(img), torch.tensor(boxes), cfg).numpy()
    assert fast.shape == (4, 3, 12, 12)
    for k, b in enumerate(boxes):
        np.testing.assert_allclose(fast[k], slow_warp(img, b, 12, 2), atol=1e-4)
    # a region reaching outside the image reads zeros there
    assert np.all(fast[3][:, 0, 0] == 0)


def test_expand_boxes_context():
    b = expand_boxes(torch.tensor([[0.0, 0.0, 192.0, 96.0]]), 224, 16)
    # after warping to 224 the original box spans 192 px with 16 px of context on each side
    torch.testing.assert_close(b, torch.tensor([[-16.0, -8.0, 208.0, 104.0]]))


def test_normalize_image():
    img = np.full((4, 5, 3), 255, np.uint8)
    t = normalize_image(img, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    assert t.shape == (3, 4, 5) and torch.allclose(t, torch.ones_like(t))


def test_postprocess_nms_per_class():
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60]], dtype=torch.float32)
    probs = torch.tensor([[0.1, 0.9, 0.0], [0.2, 0.8, 0.0], [0.3, 0.0, 0.7], [0.96, 0.04, 0.0]])
    b, s, lbl = postprocess(boxes, probs, (100, 100), PostprocessConfig(nms_iou=0.3, score_threshold=0.05))
    # class 1: box 1 suppressed by box 0 (IoU .81); class 2 keeps its overlapping box (NMS is per class);
    # box 3 is below the threshold for every class
    assert lbl.tolist() == [1, 2] and s.tolist() == pytest.approx([0.9, 0.7])
    b, s, lbl = postprocess(boxes, probs, (100, 100), PostprocessConfig(max_detections=1))
    assert lbl.tolist() == [1]


def test_apply_box_deltas_identity_and_shift():
    boxes = torch.tensor([[0.0, 0.0, 10.0, 20.0]])
    d = torch.zeros(1, 2, 4)
    d[0, 1, 0] = 10.0  # dx = 1 box width (weights 10)
    out = apply_box_deltas(boxes, d)
    torch.testing.assert_close(out[0, 0], boxes[0])
    torch.testing.assert_close(out[0, 1], torch.tensor([10.0, 0.0, 20.0, 20.0]))


class ConstantModel(torch.nn.Module):
    """Logits depending only on the region's mean colour: red regions → class 1."""

    def forward(self, x):
        red = x[:, 0].mean(dim=(1, 2)) - x[:, 2].mean(dim=(1, 2))
        return torch.stack([torch.zeros_like(red), 4 * red, torch.zeros_like(red)], dim=1)


def member(model, k=3):
    spec = ClassifierSpec(arch="paper-bn", num_classes=k, input_size=96, context_pad=0, mean=(0.5, 0.5, 0.5),
                          std=(0.5, 0.5, 0.5))
    return Member(model.eval(), spec, tuple(ilsvrc_categories()[:k - 1]), {})


def test_ensemble_averages_softmax():
    m1, m2 = member(build_classifier(member(torch.nn.Identity()).spec)), None
    torch.manual_seed(1)
    m2 = member(build_classifier(m1.spec))
    img = np.random.default_rng(0).integers(0, 255, (60, 80, 3), dtype=np.uint8)
    boxes = torch.tensor([[0.0, 0.0, 40.0, 40.0], [10.0, 10.0, 70.0, 50.0]])
    p1, _ = Detector(None, [m1]).score_regions(img, boxes)
    p2, _ = Detector(None, [m2]).score_regions(img, boxes)
    pe, _ = Detector(None, [m1, m2]).score_regions(img, boxes)
    torch.testing.assert_close(pe, (p1 + p2) / 2)
    torch.testing.assert_close(pe.sum(1), torch.ones(2))


def test_detector_end_to_end_and_batching():
    img = np.zeros((100, 120, 3), np.uint8)
    img[20:60, 30:80] = (255, 0, 0)
    proposals = np.array([[30, 20, 80, 60], [0, 0, 20, 20], [31, 21, 79, 59], [90, 70, 120, 100]], np.float32)
    det = Detector(lambda im: proposals, [member(ConstantModel())], batch_size=3)
    out = det.detect(img)
    assert out.num_proposals == 4 and len(out) >= 1
    # the all-red inner box scores highest; the near-duplicate around it (IoU .92) is suppressed
    assert out.labels[0] == 1 and out.boxes[0].tolist() == [31, 21, 79, 59]
    assert [30, 20, 80, 60] not in out.boxes[out.labels == 1].tolist()
    one_batch = Detector(lambda im: proposals, [member(ConstantModel())], batch_size=64).detect(img)
    np.testing.assert_allclose(one_batch.scores, out.scores, rtol=1e-5)
    assert set(out.timings) == {"proposals", "classify", "nms"}


def test_duplicate_proposals_are_scored_once():
    import numpy as np
    import torch

    from detector.classifier import ClassifierSpec, Member, build_classifier
    from detector.data.vocab import ilsvrc_categories
    from detector.pipeline import Detector

    torch.manual_seed(0)
    spec = ClassifierSpec(arch="paper-bn", num_classes=3, input_size=96, width=0.25)
    m = Member(build_classifier(spec).eval(), spec, (ilsvrc_categories()[123], ilsvrc_categories()[57]), {})
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (80, 100, 3), dtype=np.uint8)
    xy = rng.uniform(0, 50, (12, 2))
    boxes = np.concatenate([xy, xy + 30], 1).astype(np.float32)
    with_dups = np.concatenate([boxes, boxes[[3, 0, 7]], boxes[:2]])
    det = Detector(None, [m], backend="torch")
    a, b = det.detect(image, boxes), det.detect(image, with_dups)
    assert b.num_proposals == 12  # the five repeats were not warped and scored again
    np.testing.assert_array_equal(a.boxes, b.boxes)
    np.testing.assert_array_equal(a.scores, b.scores)
    np.testing.assert_array_equal(a.labels, b.labels)
