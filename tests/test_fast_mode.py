"""Fast mode (SPP-net / Fast R-CNN): region features pooled from one trunk pass per image.

Checked against references written here: roi_align pooling against a plain bilinear-sampling loop; where the pooled
cells fall against crops mode, exactly, on images that are linear ramps (bilinear sampling reproduces a linear
function, so a trunk that reads pixel 16 j + 14 — where the GoogLeNet trunk's cell j is centred — gives the same
cells in both modes only if the geometry is right); the trunk's cell geometry against a mirror-symmetric network.
"""

import dataclasses
import json

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from click.testing import CliRunner
from PIL import Image
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from cli.main import cli
from detector.classifier import (
    CheckpointError,
    ClassifierSpec,
    ImageBatch,
    Member,
    RegionClassifier,
    build_classifier,
    load_ensemble,
    load_init_weights,
    load_member,
    save_member,
)
from detector.data.vocab import ilsvrc_categories
from detector.nn.inception import build_googlenet
from detector.pipeline import Detector, PostprocessConfig
from detector.nn.transforms import normalize_image, resize_short_side
from detector.regions import expand_boxes, warp_regions
from detector.train import (
    RegionBatches,
    TrainConfig,
    _WithBoxes,
    classifier_loss,
    collate_regions,
    sample_regions,
    train_classifier,
)
from helpers import write_images_gt
from test_train import synthetic_images

CLASSES = (ilsvrc_categories()[123], ilsvrc_categories()[57])  # person, dog
S = 96  # input size of the tiny models: 6 x 6 cells at inception 4e


def fast_spec(**kw):
    return ClassifierSpec(**{"arch": "paper-bn", "num_classes": 3, "input_size": S, "width": 0.25, "context_pad": 8,
                             "mode": "fast", "fast_short_side": 96, "fast_max_side": 160, **kw})


# ---- geometry -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["paper-bn", "torchvision"])
def test_trunk_geometry_matches_the_network(arch):
    m = build_classifier(fast_spec(arch=arch)).eval()
    for h, w in [(96, 96), (112, 130), (224, 224), (77, 300)]:
        g = m.backbone.trunk_geometry(h)
        with torch.no_grad():
            t = m.backbone.forward_trunk(torch.zeros(1, 3, h, w))
        assert (g.stride, g.offset) == (16, 6.5)
        assert t.shape[-2:] == (g.size, m.backbone.trunk_geometry(w).size)
    with torch.no_grad():
        logits, deltas = m.forward_fast(torch.zeros(3, 96, 128), torch.tensor([[10.0, 10.0, 60.0, 80.0]] * 3))
    assert logits.shape == (3, 3) and deltas is None and torch.isfinite(logits).all()


def test_trunk_cells_centred_where_geometry_says():
    """A network with mirror-symmetric kernels maps a mirrored image to the mirrored map exactly when the image's
    width puts the cell centres (16 j + 14.5) symmetrically about its middle: width 16 P + 13."""
    torch.manual_seed(0)
    net = build_googlenet(num_classes=3, batch_norm=True, aux_logits=False, width=0.25).eval()
    with torch.no_grad():
        for mod in net.modules():
            if isinstance(mod, nn.Conv2d):
                mod.weight.copy_((mod.weight + mod.weight.flip(-1)) / 2)
        p = 4
        g = net.trunk_geometry(16 * p + 13)
        assert g.size == p and 2 * g.offset + g.stride * g.size == 16 * p + 13
        for width, symmetric in [(16 * p + 13, True), (16 * p + 12, False), (16 * p + 14, False)]:
            x = torch.randn(1, 3, 40, width)
            a, b = net.forward_trunk(x), net.forward_trunk(x.flip(-1))
            assert bool((a.flip(-1) - b).abs().max() < 1e-5 * a.abs().max()) == symmetric, width


def slow_roi_pool(fmap: np.ndarray, box, size: int, pad: int, scale: float, cells: int) -> np.ndarray:
    """Reference pooling of one box (original-image pixels) from the 4e map of the image resized by ``scale``.

    From the definitions: crops mode warps the box grown by the context to size × size, and its P = ``cells`` map
    cells are centred on crop pixel 16 d + 14 (continuous 16 d + 14.5), each 16 crop pixels wide; a bin is sampled
    2 × 2 times, at its quarter points. Each sample goes crop pixel → image → resized image → map index
    ((x - 14.5) / 16), then bilinear with roi_align's border rule (zero beyond one cell out, clamped within)."""
    c, h, w = fmap.shape
    b = expand_boxes(torch.tensor([box], dtype=torch.float64), size, pad)[0].numpy()
    per_x, per_y = (b[2] - b[0]) / size, (b[3] - b[1]) / size

    def bilinear(y, x):
        if y < -1 or y > h or x < -1 or x > w:
            return np.zeros(c)
        y, x = max(y, 0.0), max(x, 0.0)
        y0, x0 = int(y), int(x)
        if y0 >= h - 1:
            y0 = y1 = h - 1
            y = float(y0)
        else:
            y1 = y0 + 1
        if x0 >= w - 1:
            x0 = x1 = w - 1
            x = float(x0)
        else:
            x1 = x0 + 1
        fy, fx = y - y0, x - x0
        return (fmap[:, y0, x0] * (1 - fy) * (1 - fx) + fmap[:, y0, x1] * (1 - fy) * fx
                + fmap[:, y1, x0] * fy * (1 - fx) + fmap[:, y1, x1] * fy * fx)

    out = np.zeros((c, cells, cells))
    for i in range(cells):
        for j in range(cells):
            acc = np.zeros(c)
            for qy in (-4.0, 4.0):
                for qx in (-4.0, 4.0):
                    cy, cx = 16 * i + 14.5 + qy, 16 * j + 14.5 + qx  # crop pixels
                    y, x = (b[1] + cy * per_y) * scale, (b[0] + cx * per_x) * scale  # resized image
                    acc += bilinear((y - 14.5) / 16, (x - 14.5) / 16)
            out[:, i, j] = acc / 4
    return out


def test_pooling_matches_slow_reference():
    torch.manual_seed(0)
    model = build_classifier(fast_spec()).eval()
    scale = 1.5
    img = torch.randn(3, int(90 * scale), int(120 * scale))
    with torch.no_grad():
        fmap = model.backbone.forward_trunk(img[None])  # 1 x C x 9 x 12
    boxes = torch.tensor([[10.0, 12.0, 70.0, 80.0], [0.0, 0.0, 120.0, 90.0], [80.5, 3.2, 119.0, 40.7],
                          [-5.0, 60.0, 20.0, 95.0], [40.0, 40.0, 48.0, 47.0]])
    pooled = model.pool_regions(fmap, model.fast_rois([boxes * scale])).numpy()
    cells = model.backbone.trunk_geometry(S).size
    assert pooled.shape == (5, fmap.shape[1], cells, cells) and cells == 6
    for k, b in enumerate(boxes.tolist()):
        ref = slow_roi_pool(fmap[0].double().numpy(), b, S, 8, scale, cells)
        np.testing.assert_allclose(pooled[k], ref, atol=1e-5, rtol=1e-4)


# ---- fast and crops mode agree --------------------------------------------------------------------------------------


class PixelTrunk(nn.Module):
    """A stand-in trunk that reads pixel 16 j + 14 for cell j (where GoogLeNet's 4e cells are centred) and a linear
    tail: logits from the cells' channel means. ``seen`` keeps what the tail was given."""

    def __init__(self):
        super().__init__()
        self.num_features = 3
        self.fc = nn.Linear(3, 3)
        self.geometry = build_googlenet(width=0.25, aux_logits=False)
        self.seen = []

    def trunk_geometry(self, input_size):
        return self.geometry.trunk_geometry(input_size)

    def forward_trunk(self, x):
        return x[:, :, 14::16, 14::16]

    def forward_tail_pooled(self, f):
        self.seen.append(f)
        return f.mean(dim=(2, 3))

    def classify(self, pooled):
        return self.fc(pooled)

    def forward_tail(self, f):
        return self.classify(self.forward_tail_pooled(f))

    def forward(self, x):
        return self.forward_tail(self.forward_trunk(x))


def ramp_image(h, w):
    """RGB uint8 whose channels are linear in x, in y, and in x + y (pixel centres); bilinear sampling is exact."""
    y, x = np.mgrid[0:h, 0:w] + 0.5
    return np.stack([x * 200 / w, y * 200 / h, (x + y) * 100 / (w + h)], axis=-1).astype(np.float32)


@pytest.mark.parametrize("short_side, atol", [(200, 2e-4), (400, 2e-4), (150, 1e-3)])
def test_fast_cells_fall_where_crop_cells_do(short_side, atol):
    """Scale 1, 2 (upsampling) and 0.75 (antialiased shrinking, whose discrete triangle weights do not keep a ramp
    exactly: off by ~0.02 px). One pixel of misplacement would be an error of ~0.013."""
    img = ramp_image(200, 260)  # float "image": exact ramps, no uint8 rounding
    boxes = torch.tensor([[50.0, 40.0, 150.0, 150.0], [120.0, 60.0, 200.0, 110.0], [60.0, 90.0, 95.0, 140.0]])
    model = RegionClassifier(PixelTrunk(), 3, False, input_size=S, context_pad=8).eval()
    norm = normalize_image(torch.from_numpy(img).permute(2, 0, 1) / 255.0)
    crops = model.backbone.forward_trunk(warp_regions(norm, boxes, fast_spec().warp))  # 3 x 3 x 6 x 6
    small, (sx, sy) = resize_short_side(norm, short_side, 1000)
    assert (sx, sy) == (short_side / 200, short_side / 200)
    with torch.no_grad():
        model.forward_fast(small, boxes * torch.tensor([sx, sy, sx, sy]))
    torch.testing.assert_close(model.backbone.seen[-1], crops, atol=atol, rtol=0)


def test_same_detections_in_both_modes():
    """Through Detector.detect: a position-dependent (ramp) model gives the same detections in both modes."""
    torch.manual_seed(0)
    model = RegionClassifier(PixelTrunk(), 3, False, input_size=S, context_pad=8).eval()
    with torch.no_grad():
        model.backbone.fc.weight.copy_(torch.tensor([[0.0, 0, 0], [4, -2, 0], [-3, 4, 0]]))
    img = ramp_image(200, 260)  # float RGB in [0, 255]: exact ramps
    rng = np.random.default_rng(0)
    xy = rng.uniform(40, 90, (30, 2))
    proposals = np.concatenate([xy, xy + rng.uniform(30, 60, (30, 2))], axis=1).astype(np.float32)
    post = PostprocessConfig(score_threshold=0.2)
    dets = [Detector(None, [Member(model, fast_spec(mode=mode, fast_short_side=400, fast_max_side=600), CLASSES,
                                   {})], post, batch_size=7).detect(img, proposals) for mode in ("crops", "fast")]
    assert len(dets[0]) > 5
    np.testing.assert_array_equal(dets[0].labels, dets[1].labels)
    np.testing.assert_allclose(dets[0].boxes, dets[1].boxes)
    np.testing.assert_allclose(dets[0].scores, dets[1].scores, atol=1e-4)


def constant_network(spec: ClassifierSpec, box_bias: torch.Tensor | None = None):
    """The real GoogLeNet of ``spec`` with every convolution zeroed: each region's logits are the classifier's bias
    (background 0, person 2, dog 1) and its box deltas ``box_bias``, whatever the region."""
    model = build_classifier(spec).eval()
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.Conv2d):
                mod.weight.zero_()
        model.backbone.fc.bias.copy_(torch.tensor([0.0, 2.0, 1.0]))
        if box_bias is not None:
            model.bbox_pred.bias.copy_(box_bias)
    return model


def test_constant_network_same_outputs_and_regression():
    """The real GoogLeNet with every convolution zeroed: each region's logits and box deltas are the heads' biases
    in both modes, so detections and regressed boxes agree exactly."""
    spec = fast_spec(bbox_reg=True)
    model = constant_network(spec, torch.linspace(-1, 1, 12))
    img = np.random.default_rng(0).integers(0, 255, (70, 90, 3), dtype=np.uint8)
    proposals = np.array([[0, 0, 40, 40], [10, 10, 80, 60], [50, 5, 90, 70], [5, 30, 30, 69]], np.float32)
    out = {}
    for mode in ("crops", "fast"):
        det = Detector(None, [Member(model, ClassifierSpec.from_dict({**spec.to_dict(), "mode": mode}), CLASSES,
                                     {})], batch_size=3)
        out[mode] = det.score_regions(img, torch.from_numpy(proposals)), det.detect(img, proposals)
    (pc, rc), dc = out["crops"]
    (pf, rf), df = out["fast"]
    torch.testing.assert_close(pf, pc, rtol=0, atol=1e-6)
    torch.testing.assert_close(rf, rc, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(df.labels, dc.labels)
    np.testing.assert_allclose(df.boxes, dc.boxes, atol=1e-4)


def test_resize_short_side_scale_and_values():
    img = torch.from_numpy(ramp_image(30, 50)).permute(2, 0, 1)
    out, (sx, sy) = resize_short_side(img, 60, 80)  # the long side caps the scale: 80 / 50
    assert out.shape == (3, 48, 80) and (sx, sy) == (80 / 50, 48 / 30)
    ref = torch.from_numpy(ramp_image(48, 80)).permute(2, 0, 1)  # the same picture at the new size
    torch.testing.assert_close(out[:, 2:-2, 2:-2], ref[:, 2:-2, 2:-2], atol=1e-3, rtol=0)


# ---- checkpoints, ensembles, resume ---------------------------------------------------------------------------------


def test_mode_recorded_and_mixed_ensemble_allowed(tmp_path):
    torch.manual_seed(0)
    spec = fast_spec()
    fast = build_classifier(spec).eval()
    assert fast.backbone.aux1 is None  # fast mode has no auxiliary heads
    save_member(tmp_path / "fast.pt", fast, spec, CLASSES)
    raw = torch.load(tmp_path / "fast.pt", weights_only=True)
    assert raw["spec"]["mode"] == "fast" and raw["spec"]["fast_short_side"] == 96
    loaded = load_member(tmp_path / "fast.pt")
    assert loaded.spec == spec
    img, boxes = torch.randn(3, 96, 128), torch.tensor([[10.0, 10.0, 60.0, 80.0]])
    with torch.no_grad():
        torch.testing.assert_close(loaded.model.forward_fast(img, boxes)[0], fast.forward_fast(img, boxes)[0])
    crops_spec = fast_spec(mode="crops")
    save_member(tmp_path / "crops.pt", build_classifier(crops_spec), crops_spec, CLASSES)
    with pytest.raises(CheckpointError, match=r"fast\.pt: given twice as an ensemble member"):  # double weight
        load_ensemble([tmp_path / "fast.pt", tmp_path / "fast.pt"])
    # other bytes, the same weights (a training's --out and its .last.ckpt; trial 54): refused as well
    save_member(tmp_path / "fast.last.ckpt", fast, spec, CLASSES, train={"epoch": 3})
    assert (tmp_path / "fast.last.ckpt").read_bytes() != (tmp_path / "fast.pt").read_bytes()
    with pytest.raises(CheckpointError, match=r"fast\.last\.ckpt: holds the same weights and settings as .*fast\.pt"):
        load_ensemble([tmp_path / "fast.pt", tmp_path / "fast.last.ckpt"])
    # the same weights in another mode are another member (trial 64): allowed
    save_member(tmp_path / "fast_as_crops.pt", fast, dataclasses.replace(spec, mode="crops", aux_logits=False),
                CLASSES)
    assert len(load_ensemble([tmp_path / "fast.pt", tmp_path / "fast_as_crops.pt"])) == 2
    # an ensemble may mix modes (the bundled one does), each member in its own; --mode picks those trained in it
    mixed = load_ensemble([tmp_path / "fast.pt", tmp_path / "crops.pt"])
    assert [m.spec.mode for m in mixed] == ["fast", "crops"]
    assert [m.path.name for m in load_ensemble([tmp_path / "fast.pt", tmp_path / "crops.pt"], mode="crops")] == [
        "crops.pt"]
    with pytest.raises(ValueError, match="unknown mode 'slow'"):
        fast_spec(mode="slow")
    with pytest.raises(ValueError, match="fast_max_side"):
        fast_spec(fast_short_side=600, fast_max_side=500)


def test_init_fast_from_crops_member(tmp_path):
    torch.manual_seed(0)
    crops_spec = fast_spec(mode="crops", bbox_reg=True)
    crops = build_classifier(crops_spec)
    save_member(tmp_path / "crops.pt", crops, crops_spec, CLASSES)
    fast = build_classifier(fast_spec())
    skipped = load_init_weights(fast, fast_spec(), tmp_path / "crops.pt", CLASSES)
    assert skipped and all(k.startswith(("backbone.aux", "bbox_pred")) for k in skipped)
    for k, v in fast.state_dict().items():
        torch.testing.assert_close(v, crops.state_dict()[k], msg=k)
    other = build_classifier(fast_spec())
    before = other.backbone.fc.weight.clone()
    load_init_weights(other, fast_spec(), tmp_path / "crops.pt", CLASSES[::-1])  # other classes: no classifier
    torch.testing.assert_close(other.backbone.fc.weight, before)
    torch.testing.assert_close(other.backbone.conv1.conv.weight, crops.backbone.conv1.conv.weight)
    with pytest.raises(CheckpointError, match="width 0.25 cannot initialise a paper-bn network of width 0.5"):
        load_init_weights(build_classifier(fast_spec(width=0.5)), fast_spec(width=0.5), tmp_path / "crops.pt")


def train_config(**kw):
    base = dict(epochs=1, images_per_batch=3, regions_per_image=8, lr=0.02, warmup_iters=2, workers=0,
                val_every=0, seed=0)
    return TrainConfig(**{**base, **kw})


def test_fast_batches_and_training(tmp_path):
    images = synthetic_images(tmp_path, n=4)
    cfg = train_config(flip=False, photometric=False)
    data = RegionBatches(images, fast_spec(), cfg)
    items = [data[i] for i in range(3)]
    img, boxes, labels, targets = items[0]
    assert img.shape == (3, 96, 120)  # 64 x 80 at a short side of 96
    # the same regions as crops mode samples, in the pixels of the resized image
    ref_boxes, ref_labels, ref_targets = sample_regions(images[0], 8, cfg, np.random.default_rng([0, 0, 1, 0]))
    torch.testing.assert_close(boxes, torch.from_numpy(ref_boxes) * 1.5)
    assert labels.tolist() == ref_labels.tolist() and np.array_equal(targets.numpy(), ref_targets)
    batch, labels, targets = collate_regions(items)
    assert batch.images.shape == (3, 3, 96, 120) and len(batch.boxes) == 3 and labels.shape == (24,)
    st = train_classifier(images, CLASSES, fast_spec(bbox_reg=True), train_config(epochs=3), tmp_path / "f.pt")
    assert all(np.isfinite(r["loss"]) and "aux" not in r for r in st.history)
    assert load_member(tmp_path / "f.pt").spec.mode == "fast"


def test_resume_in_another_mode_refused(tmp_path):
    images = synthetic_images(tmp_path, n=3)
    out = tmp_path / "m.pt"
    train_classifier(images, CLASSES, fast_spec(mode="crops"), train_config(), out)
    with pytest.raises(CheckpointError, match=r"cannot resume .*m\.pt: it was started with other settings \(--mode "
                                              r"fast now, crops in that run\)\. Give the same, or start a new run from "
                                              r"its weights with --init .*m\.last\.ckpt"):
        train_classifier(images, CLASSES, fast_spec(), train_config(epochs=2), out, resume=True)


def _ddp_worker(rank, world, init_file, q):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        torch.manual_seed(0)
        model = build_classifier(fast_spec(bbox_reg=True)).train()
        ddp = DistributedDataParallel(_WithBoxes(model))  # kept alive until backward: its hooks average gradients
        loss, _ = classifier_loss(ddp, *_fast_batch(rank), train_config())
        loss.backward()
        # numpy arrays travel by value: a tensor would travel as a file descriptor that dies with this process
        q.put((rank, model.backbone.conv1.conv.weight.grad.numpy().copy(), model.bbox_pred.weight.grad.numpy().copy()))
    finally:
        dist.destroy_process_group()


def _fast_batch(seed):
    g = torch.Generator().manual_seed(seed)
    boxes = torch.tensor([[10.0, 10.0, 60.0, 80.0], [30.0, 5.0, 110.0, 90.0], [0.0, 0.0, 120.0, 96.0]])
    return (ImageBatch(torch.randn(2, 3, 96, 120, generator=g), (boxes, boxes.flip(0))),
            torch.tensor([1, 0, 2, 0, 1, 0]), torch.randn(6, 4, generator=g))


@pytest.mark.skipif(not (dist.is_available() and dist.is_gloo_available()), reason="no torch.distributed gloo")
def test_fast_mode_under_ddp(tmp_path):
    """An ImageBatch goes through DistributedDataParallel (2 CPU processes) and every parameter gets a gradient
    (no auxiliary heads left unused): each rank ends with the mean of the ranks' gradients."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_ddp_worker, args=(r, 2, str(tmp_path / "init"), q)) for r in range(2)]
    for pr in procs:
        pr.start()
    got = sorted((q.get(timeout=120) for _ in procs), key=lambda t: t[0])
    got = [(r, *(torch.from_numpy(a) for a in arrays)) for r, *arrays in got]
    for pr in procs:
        pr.join(timeout=60)
    alone = []
    for r in range(2):
        torch.manual_seed(0)
        model = build_classifier(fast_spec(bbox_reg=True)).train()
        classifier_loss(model.forward_with_boxes, *_fast_batch(r), train_config())[0].backward()
        alone.append((model.backbone.conv1.conv.weight.grad, model.bbox_pred.weight.grad))
    for k in range(2):
        for r in range(2):
            torch.testing.assert_close(got[r][k + 1], (alone[0][k] + alone[1][k]) / 2, rtol=1e-4, atol=1e-6)


# ---- the CLI ---------------------------------------------------------------------------------------------------------


def test_train_fast_cli_from_crops_member_then_run(tmp_path):
    images = synthetic_images(tmp_path, n=4)
    write_images_gt(tmp_path / "gt.json", images)
    torch.manual_seed(0)
    crops_spec = ClassifierSpec(arch="paper-bn", num_classes=3, input_size=S, width=0.25)
    save_member(tmp_path / "crops.pt", build_classifier(crops_spec), crops_spec, CLASSES)
    out = tmp_path / "fast.pt"
    base = ["train", "classifier", "--gt", str(tmp_path / "gt.json"), "--out", str(out), "--input-size", str(S),
            "--width", "0.25", "--epochs", "1", "--batch-size", "32", "--workers", "0", "--cache-dir",
            str(tmp_path / "cache")]
    res = CliRunner().invoke(cli, base + ["--mode", "fast", "--fast-short-side", "96", "--fast-max-side", "160",
                                          "--init", str(tmp_path / "crops.pt"), "--val", str(tmp_path / "gt.json")])
    assert res.exit_code == 0, res.output
    assert "fast mode" in res.output
    m = load_member(out)
    assert (m.spec.mode, m.spec.fast_short_side, m.spec.aux_logits) == ("fast", 96, False)
    assert "val_mAP" in m.train  # validation ran the fast-mode member through Detector
    res = CliRunner().invoke(cli, base + ["--mode", "crops", "--resume"])
    assert res.exit_code != 0 and "(--mode crops now, fast in that run)" in res.output, res.output
    res = CliRunner().invoke(cli, ["run", str(images[0].path), "--model", str(out), "--out",
                                   str(tmp_path / "b.json"), "--workers", "0", "--cache-dir", str(tmp_path / "cache"),
                                   "--score-threshold", "0"])
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "b.json").read_text())
    assert doc["model"]["members"] == 1 and doc["detections"]


def test_a_narrow_strip_runs_in_fast_mode(tmp_path):
    """A 25 x 4000 strip shrinks to 6 px wide at fast mode's scale, and the trunk's pooling had no cell left ("Invalid
    input shape" from ONNX Runtime, user trial): the resized image is padded to FAST_MIN_SIDE, on both backends."""
    from detector.nn.transforms import FAST_MIN_SIDE

    out, (sx, sy) = resize_short_side(torch.ones(3, 4000, 25), 600, 1000)
    assert out.shape == (3, 1000, FAST_MIN_SIDE) and (sx, sy) == (6 / 25, 1000 / 4000)
    assert float(out[:, :, :6].min()) > 0.999 and float(out[:, :, 6:].abs().max()) == 0.0  # padded with zeros
    torch.manual_seed(0)
    spec = ClassifierSpec(arch="paper-bn", num_classes=3, input_size=S, width=0.25)
    model = save_member(tmp_path / "m.pt", build_classifier(spec).eval(), spec, CLASSES)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (4000, 25, 3), dtype=np.uint8)).save(tmp_path / "s.png")
    for backend in ("torch", "onnx"):
        res = CliRunner().invoke(cli, ["run", str(tmp_path / "s.png"), "--model", str(model), "--mode", "fast",
                                       "--proposals", "multibox", "--out", str(tmp_path / f"{backend}.json"),
                                       "--backend", backend, "--score-threshold", "0", "--threads", "1"])
        assert res.exit_code == 0, res.output
        doc = json.loads((tmp_path / f"{backend}.json").read_text())
        assert doc["errors"] == [] and doc["detections"], backend
