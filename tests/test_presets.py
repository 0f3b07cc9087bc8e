"""detect run --mode / --preset (issue 15): any member in either mode with the same weights, presets that map to
their documented settings, and memory that stays flat as proposals grow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from click.testing import CliRunner
from PIL import Image

from cli.main import cli
from cli.run_cmd import apply_preset, from_options
from detector.classifier import ClassifierSpec, build_classifier, load_member, save_member
from detector.data.vocab import ilsvrc_categories
from detector.engines import PRESETS
from helpers import assert_same_detections

CLASSES = [ilsvrc_categories()[123], ilsvrc_categories()[57]]  # person, dog


def crops_model(path, seed=0):
    torch.manual_seed(seed)
    spec = ClassifierSpec(arch="paper-bn", num_classes=3, input_size=96, width=0.25, fast_short_side=120,
                          fast_max_side=200)
    model = build_classifier(spec)
    with torch.no_grad():  # "person" likely everywhere: the run produces detections
        model.backbone.fc.bias[1] = 4.0
    return save_member(path, model.eval(), spec, CLASSES)


def image_folder(tmp_path):
    d = tmp_path / "imgs"
    d.mkdir()
    rng = np.random.default_rng(0)
    for k in range(2):
        arr = rng.integers(0, 60, (90, 120, 3), dtype=np.uint8)
        arr[20:70, 30 + 10 * k : 90] = (200, 40, 40)
        Image.fromarray(arr).save(d / f"{k}.png")
    return d


def run(tmp_path, d, model, out, *extra):
    # selective search in a worker process: OpenCV orders its boxes with the C rand(), which threads in this process
    # may also draw from
    r = CliRunner().invoke(cli, ["run", str(d), "--out", str(out), "--model", str(model), "--workers", "1",
                                 "--no-cache", "--backend", "torch", "--threads", "1", *extra])
    assert r.exit_code == 0, r.output
    return json.loads(out.read_text())


def test_mode_override_equals_a_fast_mode_file_with_the_same_weights(tmp_path):
    d = image_folder(tmp_path)
    crops = crops_model(tmp_path / "crops.pt")
    m = load_member(crops)
    fast_spec = ClassifierSpec(**{**m.spec.to_dict(), "mode": "fast", "aux_logits": False})
    fast_model = build_classifier(fast_spec)
    fast_model.load_state_dict({k: v for k, v in m.model.state_dict().items() if not k.startswith("backbone.aux")})
    fast = save_member(tmp_path / "fast.pt", fast_model.eval(), fast_spec, CLASSES)

    by_override = run(tmp_path, d, crops, tmp_path / "a.json", "--mode", "fast")
    by_file = run(tmp_path, d, fast, tmp_path / "b.json")
    assert by_override["detections"] and by_override["detections"] == by_file["detections"]
    assert by_override["model"]["mode"] == "fast"
    in_crops = run(tmp_path, d, crops, tmp_path / "c.json")
    assert in_crops["model"]["mode"] == "crops" and in_crops["detections"] != by_override["detections"]
    # and back: the fast-mode file in crops mode is the crops-mode member
    back = run(tmp_path, d, fast, tmp_path / "d.json", "--mode", "crops")
    assert back["detections"] == in_crops["detections"]
    # the fast-mode scale can be set per run
    small = run(tmp_path, d, crops, tmp_path / "e.json", "--mode", "fast", "--fast-short-side", "64")
    assert small["detections"] != by_override["detections"]
    assert small["job"]["config_sha256"] != by_override["job"]["config_sha256"]


def test_an_ensemble_may_mix_crops_and_fast_members(tmp_path):
    """The bundled ensemble is a crops-mode member and a fast-mode one: each runs in its own mode and their class
    probabilities (and regressed boxes) are averaged region by region, as for members of one mode."""
    from detector.pipeline import Detector

    crops = load_member(crops_model(tmp_path / "crops.pt"))
    torch.manual_seed(1)
    fast_spec = ClassifierSpec(**{**crops.spec.to_dict(), "mode": "fast", "aux_logits": False, "bbox_reg": True})
    fast = load_member(save_member(tmp_path / "fast.pt", build_classifier(fast_spec).eval(), fast_spec, CLASSES))
    image = np.random.default_rng(0).integers(0, 255, (90, 120, 3), dtype=np.uint8)
    boxes = torch.tensor([[10, 10, 60, 80], [30, 5, 110, 70], [0, 0, 120, 90]], dtype=torch.float32)

    def scores(members):
        return Detector(None, members, backend="torch").score_regions(image, boxes)

    (p_c, r_c), (p_f, r_f), (p_m, r_m) = scores([crops]), scores([fast]), scores([crops, fast])
    torch.testing.assert_close(p_m, (p_c + p_f) / 2)
    assert r_c is None and r_m is not None  # only the fast member regresses: its boxes alone
    torch.testing.assert_close(r_m, r_f)
    # from the command line: one run, the model entry says both modes
    d = image_folder(tmp_path)
    doc = run(tmp_path, d, tmp_path / "crops.pt", tmp_path / "m.json", "--model", str(tmp_path / "fast.pt"))
    assert doc["model"]["mode"] == "mixed" and doc["model"]["modes"] == ["crops", "fast"]
    assert doc["model"]["members"] == 2
    # --mode picks the members trained in that mode where the ensemble has some ...
    for mode, member in (("fast", "fast.pt"), ("crops", "crops.pt")):
        doc = run(tmp_path, d, tmp_path / "crops.pt", tmp_path / f"{mode}.json", "--model", str(tmp_path / "fast.pt"),
                  "--mode", mode)
        assert doc["model"]["files"] == [str(tmp_path / member)] and doc["model"]["mode"] == mode
    # ... and runs all of them in it where it has none
    crops_model(tmp_path / "crops2.pt", seed=1)
    doc = run(tmp_path, d, tmp_path / "crops.pt", tmp_path / "c2.json", "--model", str(tmp_path / "crops2.pt"),
              "--mode", "fast")
    assert doc["model"]["members"] == 2 and doc["model"]["mode"] == "fast"
    # --preset fast prefers crops-mode members: of the mixed ensemble the crops one alone; a fast-only model runs
    # as it is (in fast mode, never converted to crops: it would be poor there)
    r = CliRunner().invoke(cli, ["run", str(d), "--out", str(tmp_path / "p1.json"), "--model", str(tmp_path / "crops.pt"),
                                 "--model", str(tmp_path / "fast.pt"), "--preset", "fast", "--proposals", "ss",
                                 "--workers", "1", "--no-cache", "--backend", "torch", "--threads", "1"])
    assert r.exit_code == 0, r.output
    doc = json.loads((tmp_path / "p1.json").read_text())
    assert doc["model"]["files"] == [str(tmp_path / "crops.pt")] and doc["model"]["mode"] == "crops"
    assert "note: the preset runs the crops-mode members alone; left out: fast.pt" in r.output  # members it named
    r = CliRunner().invoke(cli, ["run", str(d), "--out", str(tmp_path / "p3.json"), "--model", str(tmp_path / "crops.pt"),
                                 "--model", str(tmp_path / "fast.pt"), "--preset", "fast", "--proposals", "ss",
                                 "--mode", "fast", "--workers", "1", "--no-cache", "--backend", "torch", "--threads",
                                 "1"])
    assert r.exit_code == 0, r.output  # --mode, not the preset, chose the members (trial 10: the note blamed the preset)
    assert "note: --mode fast runs the fast-mode members alone; left out: crops.pt" in r.output, r.output
    r = CliRunner().invoke(cli, ["run", str(d), "--out", str(tmp_path / "p4.json"), "--model", str(tmp_path / "crops.pt"),
                                 "--model", str(tmp_path / "fast.pt"), "--proposals", "ss", "--mode", "fast",
                                 "--workers", "1", "--no-cache", "--backend", "torch", "--threads", "1"])
    assert r.exit_code == 0, r.output  # no preset: --mode alone left crops.pt out without a word (older note)
    assert "note: --mode fast runs the fast-mode members alone; left out: crops.pt" in r.output, r.output
    doc = run(tmp_path, d, tmp_path / "fast.pt", tmp_path / "p2.json", "--preset", "fast", "--proposals", "ss")
    assert doc["model"]["files"] == [str(tmp_path / "fast.pt")] and doc["model"]["mode"] == "fast"


def test_the_bundled_fast_model_says_which_of_its_members_it_leaves_out(tmp_path, monkeypatch):
    """A member added to detector/models/fast that the preset does not run (not crops-mode) was dropped silently;
    the folder is read as --model DIR reads one and a note names the files left out. The shipped form (one crops
    member) runs as before, without a note. A copy of the folder, never the real one."""
    import cli.run_cmd as run_cmd
    import detector.engines as engines

    folder = tmp_path / "models" / "fast"
    crops = load_member(crops_model(folder / "member0.pt"))
    fast_spec = ClassifierSpec(**{**crops.spec.to_dict(), "mode": "fast", "aux_logits": False})
    torch.manual_seed(1)
    monkeypatch.setattr(engines, "BUNDLED_MODELS", tmp_path / "models")
    d = image_folder(tmp_path)
    args = ["run", str(d / "0.png"), "--preset", "fast", "--proposals", "ss", "--workers", "1", "--no-cache",
            "--backend", "torch", "--threads", "1", "--ss-resize-width", "80"]
    r = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "one.json")])
    # the shipped form: one member, nothing to say of members (this tiny one has no box regression: the preset's
    # --refine 1 has nothing to do, and a note says so)
    assert r.exit_code == 0 and "note: the preset runs" not in r.output, r.output
    assert "note: --refine 1 (the preset's) does nothing here: no member regresses boxes" in r.output
    assert json.loads((tmp_path / "one.json").read_text())["model"]["files"] == [str(folder / "member0.pt")]
    save_member(folder / "member1.pt", build_classifier(fast_spec).eval(), fast_spec, CLASSES)
    r = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "two.json")])
    assert r.exit_code == 0, r.output
    assert f"note: the preset runs the crops-mode members of {folder} alone; left out: member1.pt" in r.output
    assert json.loads((tmp_path / "two.json").read_text())["model"]["files"] == [str(folder / "member0.pt")]
    assert run_cmd.default_model_paths("fast") == [folder / "member0.pt", folder / "member1.pt"]  # as --model DIR


def _defaults() -> dict:
    """detect run's options at their defaults, as click passes them."""
    from cli.run_cmd import run_cmd

    ctx = run_cmd.make_context("run", [str(Path(__file__).parent)], resilient_parsing=True)
    return {k: v for k, v in ctx.params.items() if k not in ("images", "out", "out_format", "resume", "shard",
                                                              "engine", "preset")}


def test_presets_map_to_their_documented_settings():
    o = _defaults()
    paper = from_options(apply_preset(o, "paper", set()), ["m.pt"])
    fast = from_options(apply_preset(o, "fast", set()), ["m.pt"])
    assert PRESETS["paper"] == {}  # the paper's path is the default path
    assert paper == from_options(o, ["m.pt"])
    expected = PRESETS["fast"]
    assert fast.proposals.method == expected["method"] != paper.proposals.method
    assert fast.mode == expected.get("mode", paper.mode)
    assert (fast.fast_short_side, fast.fast_max_side) == (expected.get("fast_short_side", paper.fast_short_side),
                                                          expected.get("fast_max_side", paper.fast_max_side))
    for k in ("ss_mode", "ss_scale", "ss_resize_width"):
        if k in expected:
            assert getattr(fast.proposals.selective_search, k[3:]) == expected[k]
    assert fast.proposals.max_proposals == expected.get("max_proposals", paper.proposals.max_proposals)
    assert fast.proposals.merge.multibox_top == expected.get("multibox_top", paper.proposals.merge.multibox_top)
    assert fast.postprocess.refine == expected.get("refine", paper.postprocess.refine) != paper.postprocess.refine
    # an option given explicitly wins over the preset
    mine = from_options(apply_preset({**o, "method": "both"}, "fast", {"method"}), ["m.pt"])
    assert mine.proposals.method == "both" and mine.mode == fast.mode
    # without --model the fast preset runs its own bundled model, a crops-mode one: --mode fast falls back to the
    # default ensemble (its fast-mode members), --mode crops keeps it
    assert apply_preset(o, "fast", set())["bundled_model"] == "fast"
    assert "bundled_model" not in apply_preset({**o, "mode": "fast"}, "fast", {"mode"})
    assert apply_preset({**o, "mode": "crops"}, "fast", {"mode"})["bundled_model"] == "fast"
    # the README documents every preset setting (prefer_mode is no option: in words)
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for k, v in expected.items():
        if k == "prefer_mode":
            assert f"its {v}-mode members alone" in readme
        elif k == "bundled_model":  # the model used without --model
            assert f"`detector/models/{v}`" in readme
        else:
            assert f"--{k.replace('_', '-').replace('method', 'proposals')} {v}" in readme, k


def test_cores_split_between_selective_search_and_the_classifier(monkeypatch):
    """Selective search at R-CNN's settings costs about what the CNN does: half the cores each. Single-strategy
    search (the fast preset's) needs little: its worker shares every core with the classifier. Explicit values win."""
    import detector.engines as engines

    monkeypatch.setattr(engines, "cpu_count", lambda: 8)
    assert engines.split_cores("ss", None, 0) == (4, 4)
    assert engines.split_cores("both", None, 0, "fast") == (4, 4)
    assert engines.split_cores("both", None, 0, "single") == (4, 8)
    assert engines.split_cores("multibox", None, 0, "single") == (0, 8)
    assert engines.split_cores("both", 2, 3, "single") == (2, 3)


MEMORY_PROBE = r"""
import resource, sys, numpy as np, torch
from detector.classifier import ClassifierSpec, Member, build_classifier
from detector.data.vocab import ilsvrc_categories
from detector.pipeline import Detector
torch.set_num_threads(1)
mode = sys.argv[1]
spec = ClassifierSpec(arch="paper-bn", num_classes=3, input_size=96, width=0.125, mode=mode, aux_logits=False,
                      fast_short_side=200, fast_max_side=300)
member = Member(build_classifier(spec).eval(), spec, tuple(ilsvrc_categories()[:2]), {})
det = Detector(None, [member], batch_size=32, max_proposals=None, backend="torch")
image = np.random.default_rng(0).integers(0, 255, (200, 300, 3), dtype=np.uint8)
rng = np.random.default_rng(1)
def boxes(n):
    xy = rng.uniform(0, 150, (n, 2)); wh = rng.uniform(10, 140, (n, 2))
    return np.concatenate([xy, xy + wh], 1).astype(np.float32)
peaks = []
for n in (250, 4000):
    det.detect(image, proposals=boxes(n))
    peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux, the peak so far
print(peaks[1] - peaks[0])
"""


def test_peak_memory_stays_flat_as_proposals_grow():
    """16 times the proposals, the same peak: regions go through the network --batch-size at a time. (Unbatched,
    4,000 warped 96-px regions alone would take 4000 × 3 × 96² × 4 bytes = 442 MB.)"""
    root = Path(__file__).resolve().parents[1]
    for mode in ("crops", "fast"):
        out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, mode], cwd=root, capture_output=True, text=True,
                             env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})
        assert out.returncode == 0, out.stderr
        growth_mib = int(out.stdout.split()[-1]) / 1024
        assert growth_mib < 60, (mode, growth_mib)


def test_image_batches_give_the_per_image_detections(tmp_path):
    """Several images through one trunk pass (fast mode, --image-batch) = image by image, up to float rounding;
    images of one size need no padding."""
    from detector.classifier import Member
    from detector.pipeline import Detector, detect_each
    from proposals.proposers import Proposed

    torch.manual_seed(0)
    spec = ClassifierSpec(arch="paper-bn", num_classes=3, input_size=96, width=0.25, mode="fast", aux_logits=False,
                          bbox_reg=True, fast_short_side=120, fast_max_side=200)
    model = build_classifier(spec).eval()
    with torch.no_grad():
        model.backbone.fc.bias[1] = 3.0
    det = Detector(None, [Member(model, spec, tuple(CLASSES), {})], backend="torch", batch_size=16)
    assert det.batches_images
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (90, 120, 3), dtype=np.uint8) for _ in range(5)]
    props = []
    for _ in images:
        xy = rng.uniform(0, 80, (40, 2))
        props.append(np.concatenate([xy, xy + rng.uniform(10, 40, (40, 2))], 1).astype(np.float32))
    one = [det.detect(im, p) for im, p in zip(images, props)]
    items = [Proposed(Path(f"{k}.png"), im, p) for k, (im, p) in enumerate(zip(images, props))]
    items.insert(2, Proposed(Path("bad.png"), error="cannot decode image"))
    batched = list(detect_each(det, items, images_per_batch=3))
    assert [it.path.name for it, _, _ in batched] == ["0.png", "1.png", "bad.png", "2.png", "3.png", "4.png"]
    assert batched[2][1] is None and batched[2][2] == "cannot decode image"
    got = [d for _, d, _ in batched if d is not None]
    for a, b in zip(one, got):
        assert_same_detections(a, b, box_atol=1e-3, score_atol=1e-4)


def test_decode_threads_keep_order_and_errors(tmp_path):
    from proposals.proposers import propose_many

    d = image_folder(tmp_path)
    (d / "z_broken.png").write_bytes(b"not a png")
    paths = sorted(d.iterdir())

    class Whole:  # a proposer without selective search: the whole image
        search = None

        def after_search(self, image, ss_boxes):
            h, w = image.shape[:2]
            return np.array([[0, 0, w, h]], np.float32), None

    plain = list(propose_many(Whole(), paths))
    threaded = list(propose_many(Whole(), paths, decode_threads=2))
    assert [p.path for p in threaded] == paths
    for a, b in zip(plain, threaded):
        assert (a.error is None) == (b.error is None)
        if a.error is None:
            np.testing.assert_array_equal(a.image, b.image)
            np.testing.assert_array_equal(a.boxes, b.boxes)
    assert threaded[-1].error is not None and "z_broken.png" in threaded[-1].error
