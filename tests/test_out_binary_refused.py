"""A text output (boxes.json, a report, proposals) named onto an existing binary file — a model, an image, an
archive — is refused before any work (after the checks that name an input it would replace), and the file is kept: `detect eval --json member0.pt` replaced a 4 MB
model with a 720-byte report, `detect run --out model.pt` with detections."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
MODEL = b"PK\x03\x04" + b"\x00" * 60  # a PyTorch file's zip signature
OTHER = b"\x01\x02\x00\x03 weights"  # no known signature, but a NUL: not text of ours


def commands(target: Path, tmp_path: Path):
    image = str(SAMPLES / "images" / "FudanPed00001.jpg")
    gt = str(SAMPLES / "annotations.json")
    return {
        "run --out": ["run", image, "--out", str(target)],
        "merge --out": ["merge", str(tmp_path / "a.part.jsonl"), "--out", str(target)],
        "proposals --out": ["proposals", image, "--out", str(target)],
        "proposals --json": ["proposals", image, "--out", str(tmp_path / "p.json"), "--json", str(target)],
        "inspect --json": ["inspect", gt, "--json", str(target)],
        "eval --json": ["eval", "--gt", gt, "--pred", gt, "--json", str(target)],
    }


@pytest.mark.parametrize("content", [MODEL, OTHER], ids=["pytorch", "nul"])
def test_each_text_output_refuses_to_replace_a_binary_file(tmp_path, content):
    target = tmp_path / "member0.pt"
    (tmp_path / "a.part.jsonl").write_text("{}\n")  # a part to merge (refused before it is read)
    for name, args in commands(target, tmp_path).items():
        target.write_bytes(content)
        r = CliRunner().invoke(cli, args)
        assert r.exit_code == 1, (name, r.output)
        kind = "a PyTorch file" if content is MODEL else "a binary file"
        assert f"{target} exists and is {kind}" in r.output and "give another path, or delete it first" in r.output
        assert target.read_bytes() == content, name


def test_a_text_file_is_still_replaced(tmp_path):
    target = tmp_path / "eval.json"
    target.write_text('{"old": "report"}\n')
    r = CliRunner().invoke(cli, ["inspect", str(SAMPLES / "annotations.json"), "--json", str(target)])
    assert r.exit_code == 0, r.output
    assert '"old"' not in target.read_text()


def test_eval_plot_replaces_an_earlier_plot_but_not_a_model(tmp_path):
    """`detect eval --plot member0.pt` replaced a 4 MB model with the PNG (the plot is no text output, so the
    refusal above passed it over): a plot replaces a PNG alone, an earlier plot."""
    gt = str(SAMPLES / "annotations.json")
    target = tmp_path / "member0.pt"
    target.write_bytes(MODEL)
    r = CliRunner().invoke(cli, ["eval", "--gt", gt, "--pred", gt, "--plot", str(target)])
    assert r.exit_code == 1 and f"--plot {target} exists and is a PyTorch file" in r.output, r.output
    assert target.read_bytes() == MODEL
    earlier = tmp_path / "pr.png"
    _png(earlier, software="Matplotlib version3.9.0, https://matplotlib.org/")  # as matplotlib's savefig marks it
    r = CliRunner().invoke(cli, ["eval", "--gt", gt, "--pred", gt, "--plot", str(earlier)])
    assert "exists and is" not in r.output, r.output  # past the refusal (matplotlib, if missing, says so after)


def _png(path: Path, software: str | None = None) -> bytes:
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    if software is not None:
        info.add_text("Software", software)
    Image.new("RGB", (8, 6), (200, 30, 30)).save(path, pnginfo=info)
    return path.read_bytes()


@pytest.mark.parametrize("software", [None, "GIMP 2.10"], ids=["no-mark", "another-program"])
def test_eval_plot_does_not_replace_a_png_no_plot_wrote(tmp_path, software):
    """Trial 65: `detect eval --plot photo.png` replaced a photo (a PNG, of someone's) by the plot: a plot replaces
    only a PNG that matplotlib wrote — an earlier plot —, and a photo is kept, with an error naming it."""
    gt = str(SAMPLES / "annotations.json")
    photo = tmp_path / "photo.png"
    before = _png(photo, software)
    r = CliRunner().invoke(cli, ["eval", "--gt", gt, "--pred", gt, "--plot", str(photo)])
    assert r.exit_code == 1 and f"--plot {photo} exists and is a PNG image that no `detect eval --plot` wrote" \
        in r.output, r.output
    assert photo.read_bytes() == before


def test_eval_plot_replaces_the_plot_it_wrote(tmp_path):
    pytest.importorskip("matplotlib")
    gt = str(SAMPLES / "annotations.json")
    pred = tmp_path / "results.json"  # COCO results: the ground truth's own boxes
    pred.write_text(json.dumps([{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"],
                                 "score": 0.9} for a in json.loads(Path(gt).read_text())["annotations"]]))
    plot = tmp_path / "pr.png"
    for _ in range(2):  # the second replaces the first
        r = CliRunner().invoke(cli, ["eval", "--gt", gt, "--pred", str(pred), "--plot", str(plot)])
        assert r.exit_code == 0 and f"wrote {plot}" in r.output, r.output
