"""The Python API (detector.api): `detect run`'s detector called as torchvision's detection models are."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from cli.main import cli
from detector import load_detector
from detector.data.images import ImageError
from detector.engines import BUNDLED_MODELS, PRESETS, default_options
from test_presets import crops_model, image_folder

SETTINGS = dict(backend="torch", no_cache=True, threads=1, ss_resize_width=80)


def test_a_loaded_detector_finds_what_detect_run_finds(tmp_path):
    d = image_folder(tmp_path)
    model = crops_model(tmp_path / "m.pt")
    r = CliRunner().invoke(cli, ["run", str(d), "--out", str(tmp_path / "b.json"), "--model", str(model),
                                 "--workers", "1", "--no-cache", "--backend", "torch", "--threads", "1",
                                 "--ss-resize-width", "80"])
    assert r.exit_code == 0, r.output
    doc = json.loads((tmp_path / "b.json").read_text())
    det = load_detector(model, device="cpu", **SETTINGS).eval()  # torchvision's habit (trial 42): itself
    paths = sorted(d.glob("*.png"))
    outs = det([str(p) for p in paths])
    assert isinstance(outs, list) and len(outs) == 2
    ids = {im["file_name"]: im["id"] for im in doc["images"]}
    names = {c["id"]: c["name"] for c in doc["categories"]}
    for p, out in zip(paths, outs):
        assert out["boxes"].dtype == torch.float32 and out["labels"].dtype == torch.int64
        mine = [d for d in doc["detections"] if d["image_id"] == ids[p.name]]
        assert len(mine) == len(out["scores"]) > 0
        xyxy = np.array([[x, y, x + w, y + h] for x, y, w, h in (d["bbox"] for d in mine)])
        np.testing.assert_allclose(out["boxes"].numpy(), xyxy, atol=0.011)
        np.testing.assert_allclose(out["scores"].numpy(), [d["score"] for d in mine], atol=1e-5)
        assert [det.categories[int(k)] for k in out["labels"]] == [names[d["category_id"]] for d in mine]
    assert det.categories[:3] == ["__background__", "person", "dog"]
    assert str(det.config.models[0]) == str(model) and det.config.postprocess.nms == "soft"


def test_every_kind_of_image_gives_the_same_detections(tmp_path):
    d = image_folder(tmp_path)
    det = load_detector(crops_model(tmp_path / "m.pt"), device="cpu", **SETTINGS)
    path = d / "0.png"
    pixels = np.array(Image.open(path).convert("RGB"))
    one = det(path)  # one image: a dict; a Path as well as a str
    assert isinstance(one, dict) and len(one["scores"]) > 0
    chw = torch.from_numpy(pixels).permute(2, 0, 1)
    for other in det([Image.open(path), pixels, chw, chw.float() / 255]):
        torch.testing.assert_close(other["boxes"], one["boxes"])
        torch.testing.assert_close(other["scores"], one["scores"])
        assert torch.equal(other["labels"], one["labels"])
    # a batch, as torchvision's models are often fed: a list out, one dict per image (noticed in round 16: refused)
    for batch in (torch.stack([chw, chw]), np.stack([pixels, pixels])):
        out = det(batch)
        assert isinstance(out, list) and len(out) == 2
        for other in out:
            torch.testing.assert_close(other["boxes"], one["boxes"])
            assert torch.equal(other["labels"], one["labels"])


def test_bad_input_is_named(tmp_path):
    det = load_detector(crops_model(tmp_path / "m.pt"), device="cpu", **SETTINGS)
    (tmp_path / "notes.jpg").write_text("not an image")
    with pytest.raises(ImageError, match="notes.jpg"):
        det(str(tmp_path / "notes.jpg"))
    with pytest.raises(ImageError, match=r"missing.jpg: no such file$"):  # was "FileNotFoundError: …: No such file"
        det(tmp_path / "missing.jpg")
    with pytest.raises(ImageError, match=r": a folder, not an image file"):
        det(tmp_path)
    with pytest.raises(ValueError, match=r"image 1: an array image is H x W x 3 uint8"):
        det([np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 3), np.float32)])
    with pytest.raises(TypeError, match="image 0: expected a file path"):
        det(3)
    with pytest.raises(ValueError, match=r"image 1: a tensor image is C x H x W .*\(8, 6, 3\): H x W x C\? "
                                         r"permute\(2, 0, 1\)"):  # a channels-last batch (trial 39)
        det([torch.zeros(3, 8, 6, dtype=torch.uint8), torch.zeros(8, 6, 3, dtype=torch.uint8)])
    with pytest.raises(ValueError, match=r"image 0: an array image .*\(3, 8, 6\) uint8: C x H x W\? transpose"):
        det(np.zeros((2, 3, 8, 6), np.uint8))
    with pytest.raises(TypeError, match="unexpected keyword argument 'nms_threshold'.*nms_iou"):
        load_detector(tmp_path / "m.pt", nms_threshold=0.5)
    with pytest.raises(ValueError, match="unknown preset 'quick'"):
        load_detector(tmp_path / "m.pt", preset="quick")


def test_presets_and_the_bundled_models_as_detect_run_has_them():
    fast = load_detector(preset="fast", device="cpu", no_cache=True)
    assert fast.config.proposals.method == PRESETS["fast"]["method"]
    assert fast.config.postprocess.refine == PRESETS["fast"]["refine"]
    assert [m.path for m in fast.members] == [BUNDLED_MODELS / "fast" / "member0.pt"]
    mine = load_detector(preset="fast", device="cpu", proposals="ss", refine=0)  # given options win
    assert mine.config.proposals.method == "ss" and mine.config.postprocess.refine == 0
    paper = load_detector(device="cpu")
    assert len(paper.members) == 4 and paper.config.proposals.method == default_options()["method"]
    assert paper.categories[124] == "person" and len(paper.categories) == 201


def test_the_library_s_defaults_are_detect_run_s():
    """detect run's options and default_options() agree (one set of defaults for the command and the API)."""
    from cli.run_cmd import run_cmd

    ctx = run_cmd.make_context("run", ["."], resilient_parsing=True)
    assert {k: ctx.params[k] for k in default_options()} == default_options()



def test_load_detector_checks_every_bound_and_choice_of_detect_run_s_options():
    """detector/api.py restates the bounds and choices of detect run's option types (_INTS, _FLOATS, _CHOICES: the
    library cannot import the command): each must be the command's own, exactly, so that the two cannot drift (a
    bound changed in one place alone, such as --fast-short-side's 32, would pass the sampled values below)."""
    import click

    from cli.run_cmd import run_cmd
    from detector import api

    params = {p.name: p for p in run_cmd.params}
    for name in set(default_options()) - api._NOT_HERE:  # --draw's: a file job's, not the API's
        t = params[name].type
        if isinstance(t, click.IntRange):
            assert api._INTS.get(name) == (t.min, t.max), name
            assert not (t.min_open or t.max_open), name
        elif isinstance(t, click.FloatRange):
            assert api._FLOATS.get(name) == (t.min, t.max, t.min_open), name
            assert not t.max_open, name
        elif isinstance(t, click.Choice):
            assert tuple(api._CHOICES.get(name, ())) == tuple(t.choices), name
        elif params[name].is_flag:
            assert name in api._FLAGS, name

@pytest.mark.parametrize("keyword, value, flag", [
    ("max_proposals", -5, "--max-proposals"), ("max_proposals", 0, "--max-proposals"),
    ("nms", "foo", "--nms"), ("score_threshold", 2, "--score-threshold"), ("nms_iou", 5, "--nms-iou"),
    ("soft_nms_sigma", 0, "--soft-nms-sigma"), ("max_detections", -1, "--max-detections"), ("refine", -1, "--refine"),
    ("batch_size", 0, "--batch-size"), ("image_batch", 0, "--image-batch"), ("proposals", "boxes", "--proposals"),
    ("ss_scale", float("nan"), "--ss-scale"), ("fast_short_side", 8, "--fast-short-side"), ("threads", -2, "--threads"),
    ("multibox_top", 0, "--multibox-top")])
def test_a_value_detect_run_refuses_is_a_value_error_before_any_model_loads(tmp_path, keyword, value, flag):
    """A value the command refuses as a usage error was taken by load_detector: run as it came (max_proposals=-5,
    score_threshold=2) or an ImageError blaming the first image ('detection failed: nms must be …')."""
    import click

    from cli.run_cmd import run_cmd

    with pytest.raises(click.UsageError):
        run_cmd.make_context("run", [".", flag, str(value)])
    with pytest.raises(ValueError, match=rf"^{keyword}="):
        load_detector(tmp_path / "absent.pt", **{keyword: value})  # refused before the model is looked for


def test_an_option_value_of_the_wrong_kind_or_a_file_as_cache_dir_is_named(tmp_path):
    with pytest.raises(TypeError, match="max_proposals='100': an integer expected"):
        load_detector(tmp_path / "absent.pt", max_proposals="100")
    with pytest.raises(TypeError, match="no_cache='no': True or False"):
        load_detector(tmp_path / "absent.pt", no_cache="no")
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="cache_dir=.*: not a folder"):
        load_detector(tmp_path / "absent.pt", cache_dir=tmp_path / "f")
    det = load_detector(crops_model(tmp_path / "m.pt"), device="cpu", mode=None, refine=0, **SETTINGS)
    assert det.config.postprocess.refine == 0  # valid values, None for a default of None, pass


def test_a_16_bit_or_transparent_pil_image_is_read_as_its_file_and_a_0_255_float_tensor_is_refused(tmp_path):
    """A PIL I;16 image went through Pillow's convert('RGB'), which clips it to white: no detection, without a word;
    an RGBA one lost its alpha (the file: over white); a float tensor in [0, 255] was clamped to white."""
    d = image_folder(tmp_path)
    det = load_detector(crops_model(tmp_path / "m.pt"), device="cpu", **SETTINGS)
    grey = np.array(Image.open(d / "0.png").convert("L"))
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "g16.png")
    rgba = np.array(Image.open(d / "0.png").convert("RGBA"))
    rgba[:, : rgba.shape[1] // 2, 3] = 0
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    for name in ("g16.png", "rgba.png"):
        from_file = det(tmp_path / name)
        with Image.open(tmp_path / name) as im:
            assert im.mode in ("I;16", "RGBA")
            in_memory = det(im)
        assert len(from_file["scores"]) > 0
        torch.testing.assert_close(in_memory["boxes"], from_file["boxes"])
        torch.testing.assert_close(in_memory["scores"], from_file["scores"])
    chw = torch.from_numpy(np.array(Image.open(d / "0.png").convert("RGB"))).permute(2, 0, 1)
    with pytest.raises(ValueError, match=r"image 0: a float tensor image has values in \[0, 1\].*to \d+: divide it"):
        det(chw.float())
    with pytest.raises(ValueError, match="image 1: a float tensor image"):
        det([chw, torch.full((3, 8, 8), float("nan"))])
    with pytest.raises(ValueError, match="image 0: a 32-bit floating-point PIL image"):
        det(Image.fromarray(np.zeros((8, 8), np.float32)))


def test_an_unusable_device_is_named_as_given(monkeypatch):
    """Trial 37: device="cuda:3" was "--device cuda asked for" (a flag the API has not, and not the device given);
    an index beyond the cards torch sees was taken and failed later."""
    from detector.nn import device as dev_mod
    from detector.nn.device import DeviceError, resolve_device

    with pytest.raises(DeviceError, match=r"device 'gpu': not a device \(auto, cpu, cuda or cuda:N\)"):
        resolve_device("gpu", what="device")
    monkeypatch.setattr(dev_mod.torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError, match=r"device 'cuda:3' asked for, but torch sees no CUDA device"):
        load_detector(device="cuda:3")
    monkeypatch.setattr(dev_mod.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(dev_mod.torch.cuda, "device_count", lambda: 1)
    with pytest.raises(DeviceError, match=r"device 'cuda:3' asked for, but torch sees 1 CUDA device: cuda:0$"):
        resolve_device("cuda:3", what="device")


def test_a_device_type_other_than_cpu_or_cuda_is_not_a_device(monkeypatch):
    """Trial 38: "mps" passed resolve_device and crashed with a traceback when the model moved; "meta" ran the job
    to 0 images and exit status 0; "cuda:x" / "cuda:-1" on a CPU machine were "asked for, but torch sees no CUDA
    device" rather than not a device."""
    from detector.nn import device as dev_mod
    from detector.nn.device import DeviceError, resolve_device

    monkeypatch.setattr(dev_mod.torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError, match=r"device '0': not a device \(auto, cpu, cuda or cuda:N\): the GPU '0' is "
                                          r"cuda:0"):  # Ultralytics' device=0 (trial 41)
        resolve_device("0", what="device")
    for bad in ("mps", "meta", "cuda:x", "cuda:-1", "CPU", "cpu:3"):
        with pytest.raises(DeviceError, match=rf"device {bad!r}: not a device \(auto, cpu, cuda or cuda:N\)"):
            resolve_device(bad, what="device")
    assert resolve_device("cpu:0").type == "cpu"


def test_a_bad_grey_array_is_reported_with_the_shape_given():
    """Trial 38: a 2-D float array was reported as "got shape (10, 10, 3) float64" — the shape of the 3-channel
    copy made of it, not the caller's (10, 10)."""
    from detector.api import _as_array

    with pytest.raises(ValueError, match=r"image 2: .* got shape \(10, 10\) float64$"):
        _as_array(np.zeros((10, 10)), 2)
    assert _as_array(np.zeros((4, 5), np.uint8), 0).shape == (4, 5, 3)


def test_a_closed_pil_image_is_named_with_what_to_do():
    """Trial 66: a PIL image closed (used after its `with Image.open(...)` block) raised Pillow's bare "Operation on
    closed image", naming no image, where every other unreadable image is "image k: …"."""
    from PIL import Image

    from detector.api import _as_array

    img = Image.fromarray(np.zeros((6, 8, 3), np.uint8))
    assert _as_array(img, 1).shape == (6, 8, 3)
    img.close()
    with pytest.raises(ValueError, match=r"^image 1: cannot read this PIL image: Operation on closed image \(closed "
                                         r"— e\.g\. used after its `with Image\.open\(\.\.\.\)` block"):
        _as_array(img, 1)


@pytest.mark.parametrize("options, argv, message", [
    (dict(nms_iou=0.5), ["--nms-iou", "0.5"],
     r"^nms_iou is a setting of nms='greedy', and this run's NMS is nms='soft' \(the default\): add nms='greedy'"),
    (dict(nms="greedy", soft_nms_sigma=0.1), ["--nms", "greedy", "--soft-nms-sigma", "0.1"],
     r"^soft_nms_sigma is a setting of nms='soft', and this run's NMS is nms='greedy': add"),
    (dict(proposals="ss", multibox_top=50), ["--proposals", "ss", "--multibox-top", "50"],
     r"^multibox_top is used only with proposals='multibox' or both \(here proposals='ss'\)"),
    (dict(preset="fast", proposals="ss", multibox="mb.pt"), ["--preset", "fast", "--proposals", "ss",
                                                             "--multibox", "mb.pt"], r"^multibox is used only"),
    # trial 61: selective search's settings with MultiBox proposals alone were ignored without a word
    (dict(proposals="multibox", ss_scale=1.0), ["--proposals", "multibox", "--ss-scale", "1"],
     r"^ss_scale is a setting of selective search, which proposals='multibox' does not run: drop it, or choose "
     r"proposals='ss' or both$"),
    (dict(preset="fast", proposals="multibox", ss_mode="single", ss_resize_width=250),
     ["--preset", "fast", "--proposals", "multibox", "--ss-mode", "single", "--ss-resize-width", "250"],
     r"^ss_mode, ss_resize_width are settings of selective search, which proposals='multibox' does not run: drop "
     r"them"),
])
def test_an_option_the_run_would_not_use_is_refused_as_detect_run_refuses_it(tmp_path, options, argv, message):
    """trial 56: load_detector(nms_iou=0.5) ran Soft-NMS, the threshold silently ignored, where `detect run
    --nms-iou 0.5` is a usage error (the README: a value detect run refuses is a ValueError of load_detector)."""
    from cli.main import cli as main

    (tmp_path / "a.jpg").write_bytes(b"")
    result = CliRunner().invoke(main, ["run", str(tmp_path / "a.jpg"), "--out", str(tmp_path / "o.json"), *argv])
    assert result.exit_code == 2, result.output
    with pytest.raises(ValueError, match=message):
        load_detector(tmp_path / "absent.pt", **options)  # refused before the model is looked for
    ok = {k: v for k, v in options.items() if k not in ("nms_iou", "soft_nms_sigma", "multibox_top", "multibox",
                                                          "ss_mode", "ss_scale", "ss_resize_width")}
    with pytest.raises(Exception) as e:  # the same options without the unused one get as far as the model
        load_detector(tmp_path / "absent.pt", **ok)
    assert "absent.pt" in str(e.value)


def test_torch_imported_first_without_a_wait_policy_is_warned_of(tmp_path):
    """trial 56: OpenMP's busy-waiting threads made the API 2.5-10x slower when the caller imported torch before
    detector (OpenMP reads OMP_WAIT_POLICY once, when torch loads it); imported after, detector sets it itself."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    model = crops_model(tmp_path / "m.pt")
    script = ("import warnings, os{first}\nimport detector{after}\nwarnings.simplefilter('error')\n"
              "try:\n    detector.load_detector({model!r}, device='cpu')\n    print('ok', os.environ['OMP_WAIT_POLICY'])\n"
              "except RuntimeWarning as e:\n    print('warned', e)\n")
    late = subprocess.run([sys.executable, "-c", script.format(first="\nimport torch", after="", model=str(model))],
                          env=env, capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert "warned torch was imported before detector without OMP_WAIT_POLICY set" in late.stdout, late.stderr
    early = subprocess.run([sys.executable, "-c", script.format(first="", after="\nimport torch", model=str(model))],
                           env=env, capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert early.stdout.strip() == "ok PASSIVE", early.stderr


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_proposals_of_one_s_own_that_are_not_finite_are_refused(tmp_path, bad):
    """Trial 66: ``det.pipeline.detect(pixels, proposals)`` with a NaN or infinite box crashed the Python process
    in a fast-mode member (roi_align: a segmentation fault; the bundled ensemble) and was dropped without a word in
    crops mode. A ValueError names the row now."""
    det = load_detector(crops_model(tmp_path / "m.pt"), device="cpu", **SETTINGS)
    pixels = np.zeros((60, 80, 3), np.uint8)
    with pytest.raises(ValueError, match=r"proposals: 1 of the 2 boxes has a NaN or infinite coordinate \(row 1: "):
        det.pipeline.detect(pixels, np.array([[5, 5, 40, 40], [bad, 0, 10, 10]], np.float32))
    assert len(det.pipeline.detect(pixels, np.array([[5, 5, 40, 40]], np.float32)).scores) <= 1  # finite: scored


def test_pixels_detector_detect_cannot_read_are_refused(tmp_path):
    """Trial 66: ``det.pipeline.detect`` with a float image in [0, 1] (torchvision's) read it as black and found
    nothing without a word; a C x H x W array or a tensor raised torch's own shape errors. A ValueError says what
    it takes."""
    det = load_detector(crops_model(tmp_path / "m.pt"), device="cpu", **SETTINGS)
    pixels = np.full((60, 80, 3), 128, np.uint8)
    boxes = np.array([[5, 5, 40, 40]], np.float32)
    det.pipeline.detect(pixels, boxes)
    det.pipeline.detect(pixels.astype(np.float32), boxes)  # float in 0–255, as the project's own tests give it
    for bad, shown in ((pixels / 255.0, r"ndarray of shape \(60, 80, 3\) float64 with values in \[0, 1\]"),
                       (pixels.transpose(2, 0, 1), r"ndarray of shape \(3, 60, 80\) uint8"),
                       (pixels[:, :, 0], r"ndarray of shape \(60, 80\) uint8"),
                       (torch.from_numpy(pixels), r"Tensor of shape \(60, 80, 3\) torch.uint8")):
        with pytest.raises(ValueError, match=r"Detector.detect takes a numpy array of RGB uint8 pixels, H x W x 3, "
                                             r"got a " + shown):
            det.pipeline.detect(bad, boxes)
