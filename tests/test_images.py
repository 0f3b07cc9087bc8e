"""Input images (issue 12): read as a viewer shows them, decoded once for every stage (kind 5); found and named by
their path relative to the input root (kind 3b); links that cannot be followed listed, not dropped (kind 8)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from detector.data.images import ImageError, list_images, load_image, scan_images
from helpers import write_png16
from proposals.proposers import SelectiveSearchProposer, propose_many
from proposals.selective_search import SelectiveSearchConfig, selective_search, selective_search_many
from test_selective_search import synthetic_image

RAW = SelectiveSearchConfig(resize_width=0)  # small images as they are: fast


def scaled(values) -> np.ndarray:
    """The PNG specification's 16 → 8 bit rule written out: a sample is the fraction v / 65535 of full scale, so
    the 8-bit sample is round(255 v / 65535) = round(v / 257)."""
    return np.floor(np.asarray(values, np.float64) * 255 / 65535 + 0.5).astype(np.uint8)


# the EXIF 2.32 specification's Orientation tag (0x0112), written out on a stored H x W x C array: where the 0th
# row and 0th column of the stored image are to be seen
EXIF_ORIENTATIONS = {
    1: lambda a: a,  # top, left
    2: lambda a: a[:, ::-1],  # top, right: mirrored left-right
    3: lambda a: a[::-1, ::-1],  # bottom, right: turned 180°
    4: lambda a: a[::-1, :],  # bottom, left: mirrored top-bottom
    5: lambda a: a.transpose(1, 0, 2),  # left, top: mirrored about the main diagonal
    6: lambda a: np.rot90(a, -1),  # right, top: turned 90° clockwise to be viewed (phones held upright)
    7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),  # right, bottom: mirrored about the other diagonal
    8: lambda a: np.rot90(a, 1),  # left, bottom: turned 90° counter-clockwise
}


def exif_with_orientation(value: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif


# ------------------------------------------------------------------------------------------------ modes
def test_grey_and_bilevel_are_grey_rgb(tmp_path):
    grey = np.array([[0, 77, 255], [1, 128, 254]], np.uint8)
    Image.fromarray(grey, "L").save(tmp_path / "g.png")
    out = load_image(tmp_path / "g.png")
    assert out.shape == (2, 3, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, np.repeat(grey[:, :, None], 3, axis=2))
    Image.fromarray(grey > 100).convert("1").save(tmp_path / "b.png")
    np.testing.assert_array_equal(load_image(tmp_path / "b.png")[:, :, 0], np.where(grey > 100, 255, 0))


def test_rgba_is_shown_over_white(tmp_path):
    px = np.array([[[200, 100, 50, 255], [200, 100, 50, 0], [200, 100, 50, 128], [0, 0, 0, 64]]], np.uint8)
    Image.fromarray(px, "RGBA").save(tmp_path / "a.png")
    out = load_image(tmp_path / "a.png").astype(float)
    a = px[0, :, 3:] / 255.0
    expected = px[0, :, :3] * a + 255 * (1 - a)  # "over" compositing onto white (Porter-Duff), by hand
    assert np.abs(out[0] - expected).max() <= 1
    np.testing.assert_array_equal(out[0, :2], [[200, 100, 50], [255, 255, 255]])  # opaque / fully transparent


def test_every_pil_mode_is_read_as_rgb_or_refused_by_name():
    """A PIL image of any mode Pillow has is RGB, or an ImageError naming the image (32-bit I / F): trial 63, a
    premultiplied 'La' image (Pillow converts it to LA alone) raised Pillow's "conversion from La to L not
    supported", naming no image."""
    from detector.data.images import as_rgb, eight_bit

    for mode in Image.MODES:
        img = Image.new(mode, (4, 3))
        if mode in ("F", "I"):
            with pytest.raises(ImageError, match="image 2: a 32-bit"):
                eight_bit(img, "image 2", pil=True)
            continue
        assert as_rgb(eight_bit(img, "image 2", pil=True)).mode == "RGB", mode
    la = Image.fromarray(np.array([[[200, 255], [200, 128], [90, 0]]], np.uint8), "LA")  # opaque, half, none
    np.testing.assert_array_equal(np.asarray(as_rgb(la.convert("La"))), np.asarray(as_rgb(la)))


def test_palette_colours_and_transparent_index(tmp_path):
    palette = [10, 20, 30, 200, 150, 100, 0, 0, 0]
    idx = np.array([[0, 1], [2, 1]], np.uint8)
    img = Image.fromarray(idx, "P")
    img.putpalette(palette)
    img.save(tmp_path / "p.png")
    np.testing.assert_array_equal(load_image(tmp_path / "p.png"),
                                  np.array(palette, np.uint8).reshape(-1, 3)[idx])
    img.save(tmp_path / "pt.png", transparency=2)  # index 2 transparent: shown as the background
    np.testing.assert_array_equal(load_image(tmp_path / "pt.png"),
                                  [[[10, 20, 30], [200, 150, 100]], [[255, 255, 255], [200, 150, 100]]])


def test_cmyk_jpeg(tmp_path):
    cmyk = np.zeros((16, 64, 4), np.uint8)
    for k, value in enumerate([(0, 0, 0, 0), (255, 0, 0, 0), (0, 0, 0, 255), (40, 120, 200, 60)]):
        cmyk[:, 16 * k : 16 * k + 16] = value
    Image.fromarray(cmyk, "CMYK").save(tmp_path / "c.jpg", quality=100)
    with Image.open(tmp_path / "c.jpg") as stored:
        assert stored.mode == "CMYK"
        c = np.asarray(stored).astype(float)  # the stored (decoded, lossy) CMYK samples
    expected = (255 - c[:, :, :3]) * (255 - c[:, :, 3:]) / 255  # the device-independent CMYK → RGB rule
    out = load_image(tmp_path / "c.jpg")
    assert out.shape == (16, 64, 3) and np.abs(out - expected).max() <= 1
    np.testing.assert_array_equal(out[8, [8, 24, 40]], [[255, 255, 255], [0, 255, 255], [0, 0, 0]])


# ------------------------------------------------------------------------------------------------ 16 bits
V16 = [0, 128, 129, 1000, 30000, 32768, 60000, 65407, 65535]


def test_16bit_grey_png_is_scaled_not_clipped(tmp_path):
    v = np.array([V16], np.uint16)
    write_png16(tmp_path / "g16.png", v)
    out = load_image(tmp_path / "g16.png")
    np.testing.assert_array_equal(out[:, :, 0], scaled(v))
    np.testing.assert_array_equal(out[:, :, 1], out[:, :, 2])
    assert (scaled(v) < 255).sum() == 7  # the old reading clipped all of these to white
    # the same samples written by Pillow (mode I;16)
    pil16 = Image.fromarray(v)
    assert pil16.mode == "I;16"
    pil16.save(tmp_path / "pil16.png")
    np.testing.assert_array_equal(load_image(tmp_path / "pil16.png")[:, :, 0], scaled(v))


def test_16bit_rgb_png_is_rounded_not_truncated(tmp_path):
    rgb = np.array([[[1000, 30000, 65535], [25700, 128, 60000], [0, 65407, 129]]], np.uint16)
    write_png16(tmp_path / "rgb16.png", rgb)
    out = load_image(tmp_path / "rgb16.png")
    np.testing.assert_array_equal(out, scaled(rgb))
    # Pillow alone keeps the high byte (v >> 8: 1000 → 3, 60000 → 234); the rule gives 4 and 233
    assert (out != (rgb >> 8)).any() and out[0, 0, 0] == 4 and out[0, 1, 2] == 233


def test_16bit_pngs_with_alpha(tmp_path):
    rgba = np.array([[[1000, 30000, 65535, 65535], [1000, 30000, 65535, 0]]], np.uint16)
    write_png16(tmp_path / "rgba16.png", rgba)
    np.testing.assert_array_equal(load_image(tmp_path / "rgba16.png"),
                                  [[scaled([1000, 30000, 65535]), [255, 255, 255]]])
    ga = np.array([[[30000, 65535], [30000, 0]]], np.uint16)
    write_png16(tmp_path / "ga16.png", ga)
    np.testing.assert_array_equal(load_image(tmp_path / "ga16.png"), [[[scaled(30000)] * 3, [255, 255, 255]]])


# ------------------------------------------------------------------------------------------------ orientation
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_as_displayed(tmp_path, orientation):
    stored = np.random.default_rng(orientation).integers(0, 256, (3, 5, 3), dtype=np.uint8)
    path = tmp_path / "o.png"
    Image.fromarray(stored).save(path, exif=exif_with_orientation(orientation))
    out = load_image(path)
    expected = EXIF_ORIENTATIONS[orientation](stored)
    np.testing.assert_array_equal(out, expected)
    assert out.shape[:2] == ((3, 5) if orientation <= 4 else (5, 3))  # displayed height, width


def test_exif_rotated_phone_jpeg(tmp_path):
    """A phone held upright stores its photo on its side (here 120 wide, 90 high) with orientation 6."""
    stored = np.full((90, 120, 3), 40, np.uint8)
    stored[:30, :40] = (230, 20, 20)  # red block at the stored top left ...
    path = tmp_path / "phone.jpg"
    Image.fromarray(stored).save(path, quality=95, exif=exif_with_orientation(6))
    out = load_image(path)
    assert out.shape == (120, 90, 3)  # ... displayed 90 wide, 120 high,
    # with the block at the top right (inside its edges, which JPEG's chroma subsampling blurs)
    assert np.abs(out[4:36, -26:-4].astype(int) - (230, 20, 20)).max() <= 8
    assert np.abs(out[-76:, :56].astype(int) - 40).max() <= 8


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_a_damaged_exif_block_is_named_with_its_file(tmp_path, caplog, suffix):
    # the last round's item: Pillow's "Corrupt EXIF data. Expecting to read 12 bytes but only got 4" named no file
    # (a JPEG's EXIF is parsed as it opens, a PNG's when asked for)
    import warnings

    from detector.data.images import image_size

    path = tmp_path / f"cut{suffix}"
    Image.new("RGB", (40, 30)).save(path, exif=exif_with_orientation(6).tobytes()[:20])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # none of Pillow's escapes unnamed
        assert load_image(path).shape == (30, 40, 3) and image_size(path) == (40, 30)
    said = [r.getMessage() for r in caplog.records if "EXIF" in r.getMessage()]
    assert said and all(m.startswith(f"{path}: Corrupt EXIF data. Expecting to read") for m in said), said
    caplog.clear()
    load_image(path)  # once per file: training decodes each image every epoch (trial 34)
    assert not [r for r in caplog.records if "EXIF" in r.getMessage()]


def test_exif_orientation_of_a_16bit_png(tmp_path):
    rgb = np.random.default_rng(3).integers(0, 65536, (3, 5, 3)).astype(np.uint16)
    write_png16(tmp_path / "o16.png", rgb, exif=exif_with_orientation(6).tobytes())
    np.testing.assert_array_equal(load_image(tmp_path / "o16.png"), np.rot90(scaled(rgb), -1))


def test_unreadable_images_say_why(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(ImageError, match="bad.png: cannot decode"):
        load_image(tmp_path / "bad.png")
    with pytest.raises(ImageError, match="gone.jpg: no such file"):
        load_image(tmp_path / "gone.jpg")
    (tmp_path / "empty.jpg").write_bytes(b"")  # trial 14: it was "not an image file, or corrupt"
    with pytest.raises(ImageError, match=r"empty.jpg: cannot decode image \(the file is empty \(0 bytes\)\)"):
        load_image(tmp_path / "empty.jpg")
    # trial 15: a truncated file said Pillow's "image file is truncated (89 bytes not processed)"
    rng = np.random.default_rng(0)
    for suffix in ("jpg", "png"):
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp_path / f"whole.{suffix}")
        data = (tmp_path / f"whole.{suffix}").read_bytes()
        (tmp_path / f"cut.{suffix}").write_bytes(data[: len(data) // 2])
        with pytest.raises(ImageError, match=rf"cut.{suffix}: cannot decode image \(the file is truncated: it ends "
                                             r"before its image data does"):
            load_image(tmp_path / f"cut.{suffix}")
    # trial 19: a JPEG cut inside its header (its first 300 bytes) said Pillow's "Truncated File Read"
    data = (tmp_path / "whole.jpg").read_bytes()
    (tmp_path / "head.jpg").write_bytes(data[:300])
    with pytest.raises(ImageError, match=r"head.jpg: cannot decode image \(the file is truncated: it ends before"):
        load_image(tmp_path / "head.jpg")
    # trial 19: a WebP cut in half said libwebp's "could not create decoder object"
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "whole.webp")
    data = (tmp_path / "whole.webp").read_bytes()
    (tmp_path / "cut.webp").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match=r"cut.webp: cannot decode image \(its image data are damaged or cut short"):
        load_image(tmp_path / "cut.webp")


# ------------------------------------------------------------------------------------------------ decoded once
@pytest.fixture
def shown_differently(tmp_path):
    """Files whose pixels OpenCV's imread (what selective search read before) and a viewer disagree on: a 16-bit
    PNG and an EXIF-rotated PNG."""
    img, _ = synthetic_image(120, 90)
    write_png16(tmp_path / "deep.png", img.astype(np.uint16) * 257 + 100)
    Image.fromarray(img).save(tmp_path / "turned.png", exif=exif_with_orientation(8))
    return [tmp_path / "deep.png", tmp_path / "turned.png"]


@pytest.mark.parametrize("workers", [0, 1])
def test_selective_search_sees_the_loaded_pixels(shown_differently, workers):
    results = list(selective_search_many(shown_differently, RAW, workers=workers, return_images=True))
    assert all(r.ok for r in results)
    for path, r in zip(shown_differently, results):
        image = load_image(path)
        np.testing.assert_array_equal(r.image, image)
        np.testing.assert_array_equal(r.boxes, selective_search(image, RAW))
    assert results[1].image.shape == (120, 90, 3)  # turned: 90 wide, 120 high
    assert results[1].boxes[:, 2].max() <= 90 and results[1].boxes[:, 3].max() <= 120
    # without return_images nothing heavy comes back
    assert all(r.image is None for r in selective_search_many(shown_differently, RAW, workers=workers))


def test_each_image_decoded_once_for_all_stages(shown_differently, tmp_path, monkeypatch):
    import proposals.proposers
    import proposals.selective_search

    calls = []

    def counting(path, data=None):
        calls.append(str(path))
        return load_image(path, data)

    monkeypatch.setattr(proposals.selective_search, "load_image", counting)
    monkeypatch.setattr(proposals.proposers, "load_image", counting)
    from proposals.cache import ProposalCache

    cache = ProposalCache(tmp_path / "cache")
    for _ in range(2):  # a cold cache, then a warm one: the pixels still come once from the one decoder
        calls.clear()
        out = list(propose_many(SelectiveSearchProposer(RAW), shown_differently, workers=0, cache=cache))
        assert sorted(calls) == sorted(map(str, shown_differently))
        for path, p in zip(shown_differently, out):
            assert p.error is None
            np.testing.assert_array_equal(p.image, load_image(path))


# ------------------------------------------------------------------------------------------------ finding, naming
def touch_image(path, size=(8, 6)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (90, 90, 90)).save(path)
    return path


def test_folder_names_are_relative_paths(tmp_path):
    for name in ("x.jpg", "x.png", "sub/x.jpg", "sub/deeper/y.PNG"):
        touch_image(tmp_path / "imgs" / name)
    (tmp_path / "imgs" / "notes.txt").write_text("not an image")
    inputs = scan_images(tmp_path / "imgs")
    assert [i.name for i in inputs] == ["sub/deeper/y.PNG", "sub/x.jpg", "x.jpg", "x.png"]
    assert all(i.problem is None and i.path == tmp_path / "imgs" / i.name for i in inputs)
    assert [i.name for i in scan_images(tmp_path / "imgs" / "sub" / "x.jpg")] == ["x.jpg"]


def test_tiff_and_gif_are_read_wherever_they_are_named(tmp_path):
    # trial 32: a folder left .tif/.tiff/.gif out without a word, a list read them and one given alone was refused
    # as "not an image"; the readers took their names as images all along
    for name in ("a.tif", "b.TIFF", "c.gif"):
        touch_image(tmp_path / "imgs" / name)
    assert [i.name for i in scan_images(tmp_path / "imgs")] == ["a.tif", "b.TIFF", "c.gif"]
    assert [i.name for i in scan_images(tmp_path / "imgs" / "b.TIFF")] == ["b.TIFF"]
    assert load_image(tmp_path / "imgs" / "c.gif").shape == (6, 8, 3)
    Image.fromarray(np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)).save(tmp_path / "f.tif")
    with pytest.raises(ImageError, match=r"f\.tif: a 32-bit floating-point image: its values have no display range"):
        load_image(tmp_path / "f.tif")  # measurements, not a picture: refused, not clipped to black


def test_list_names_relative_to_the_deepest_common_folder(tmp_path):
    a = touch_image(tmp_path / "data" / "cam_a" / "img.jpg")
    b = touch_image(tmp_path / "data" / "cam_b" / "img.jpg")
    c = touch_image(tmp_path / "data" / "cam_b" / "night" / "img.jpg")
    lst = tmp_path / "lists" / "l.txt"
    lst.parent.mkdir()
    lst.write_text(f"# cameras\n../data/cam_a/img.jpg\n\n{b}\n../data/./cam_b/night/img.jpg\n")
    inputs = scan_images(lst)
    assert [i.name for i in inputs] == ["cam_a/img.jpg", "cam_b/img.jpg", "cam_b/night/img.jpg"]
    assert [os.path.samefile(i.path, p) for i, p in zip(inputs, (a, b, c))] == [True] * 3
    lst.write_text(f"{b}\n")  # one image: its name
    assert [i.name for i in scan_images(lst)] == ["img.jpg"]
    lst.write_text(f"{c}\n{b}\n")
    assert [i.name for i in scan_images(lst)] == ["night/img.jpg", "img.jpg"]
    lst.write_text(f"{a}\n{b}\n../data/cam_a/img.jpg\n")
    with pytest.raises(ImageError, match=r"l.txt:3: .* listed twice \(also on line 1\)"):
        scan_images(lst)


def test_a_listed_name_starting_with_a_hash_or_a_space_is_the_file_it_names(tmp_path):
    """Trial 66: in a list, '#1.jpg' was read as a comment and left out without a word, and ' b.jpg' as 'b.jpg'
    (skipped: no such file), where a folder of the two runs both. A line naming a file as it stands is that file;
    a '#' line naming none is still a comment, and spaces around a name of no file are still trimmed."""
    touch_image(tmp_path / "#1.jpg")
    touch_image(tmp_path / " b.jpg")
    touch_image(tmp_path / "c.jpg")
    lst = tmp_path / "l.txt"
    lst.write_text("# my photos\n#1.jpg\n b.jpg\n  c.jpg  \r\n")
    assert [i.name for i in scan_images(lst)] == ["#1.jpg", " b.jpg", "c.jpg"]
    assert sorted(i.name for i in scan_images(tmp_path) if i.name.endswith(".jpg")) == [" b.jpg", "#1.jpg", "c.jpg"]


def test_an_ilsvrc_image_list_given_as_images_is_told_apart(tmp_path):
    """An ILSVRC image list (`name index` lines: the devkit's val.txt, or the `sub.images.txt` that `detect run
    --format ilsvrc` writes) given to `detect run` as its list of images is refused before any work, saying what it
    is; it was read as paths 'x.jpg 1', each image an error ("No such file or directory") and the job exit 1 (trial
    55). A list of real paths whose names end in a number is read as before."""
    touch_image(tmp_path / "a.jpg")
    touch_image(tmp_path / "b 2.jpg")
    lst = tmp_path / "sub.images.txt"
    lst.write_text("a.jpg 1\nb 2.jpg 2\n")
    with pytest.raises(ImageError, match=r"sub.images.txt: its lines are 'name index' pairs .*ILSVRC image list.*"
                                         r"one image path a line"):
        scan_images(lst)
    lst.write_text("ILSVRC2012_val_00032300 1\nILSVRC2012_val_00001007 2\n")
    with pytest.raises(ImageError, match=r"'name index' pairs"):
        scan_images(lst)
    lst.write_text("a.jpg\nb 2.jpg\n")  # real paths: read as always
    assert [i.name for i in scan_images(lst)] == ["a.jpg", "b 2.jpg"]
    lst.write_text("a.jpg 1\nb 2.jpg\n")  # one real path among them: the run lists the missing ones under errors
    assert [i.name for i in scan_images(lst)] == ["a.jpg 1", "b 2.jpg"]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links here")
def test_links_that_cannot_be_followed_are_listed(tmp_path):
    root = tmp_path / "imgs"
    touch_image(root / "a.png")
    touch_image(tmp_path / "elsewhere" / "c.png")
    os.symlink("loop.jpg", root / "loop.jpg")  # a link to itself
    os.symlink("pong.jpg", root / "ping.jpg")  # two links to each other
    os.symlink("ping.jpg", root / "pong.jpg")
    os.symlink("missing.png", root / "broken.png")
    os.symlink(".", root / "again")  # a folder link back to its own folder
    os.symlink("../elsewhere", root / "linked")  # a folder link elsewhere: followed
    os.symlink("missing.txt", root / "notes.txt")  # not an image: not an input
    inputs = {i.name: i for i in scan_images(root)}
    assert sorted(inputs) == ["a.png", "again", "broken.png", "linked/c.png", "loop.jpg", "ping.jpg", "pong.jpg"]
    assert inputs["a.png"].problem is None and inputs["linked/c.png"].problem is None
    assert "symbolic link loop" in inputs["loop.jpg"].problem
    assert "symbolic link loop" in inputs["ping.jpg"].problem and "symbolic link loop" in inputs["pong.jpg"].problem
    assert "broken symbolic link" in inputs["broken.png"].problem and "missing.png" in inputs["broken.png"].problem
    assert "symbolic link loop" in inputs["again"].problem and "folder above it" in inputs["again"].problem
    assert sorted(p.name for p in list_images(root)) == ["a.png", "c.png"]


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # as detector.data.images filters it
def test_a_huge_image_is_decoded_with_a_warning_naming_it_and_one_too_huge_is_refused(tmp_path, monkeypatch, caplog):
    """Trial 17: Pillow's DecompressionBombWarning was printed raw, without the file's name. Past Pillow's limit
    (Image.MAX_IMAGE_PIXELS, lowered here) a warning names the file and its size; past twice the limit Pillow
    refuses to decode and the ImageError names the file."""
    path = tmp_path / "big.png"
    Image.fromarray(np.zeros((40, 30, 3), np.uint8)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with caplog.at_level("WARNING"):
        assert load_image(path).shape == (40, 30, 3)
    assert f"{path}: a very large image (30 × 40 pixels, more than Pillow's 1,000)" in caplog.text
    assert len(caplog.records) == 1, caplog.text  # Pillow's own, raised as it opens, stays filtered
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)
    with pytest.raises(ImageError, match=f"{path}: too large to decode \\(1,200 pixels, over twice Pillow's limit "
                                         "of 500: PIL.Image.MAX_IMAGE_PIXELS"):
        load_image(path)


def test_a_search_worker_s_warning_comes_in_the_run_s_form(tmp_path):
    """Trial 35: with selective search in worker processes a damaged EXIF came as Python's bare last-resort line
    beside the run's "WARNING detector.data.images: …" (a forkserver worker starts with logging unconfigured)."""
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = tmp_path / "cut.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (60, 80, 3), np.uint8)).save(
        path, exif=exif_with_orientation(6).tobytes()[:20])
    res = subprocess.run([sys.executable, "-m", "cli.main", "proposals", str(path), "--out", str(tmp_path / "p.json"),
                          "--workers", "1", "--no-cache"], capture_output=True, text=True, timeout=300,
                         cwd=tmp_path, env={**os.environ, "PYTHONPATH": root})
    assert res.returncode == 0, res.stderr
    said = [line for line in res.stderr.splitlines() if "Corrupt EXIF" in line]
    assert said and all(line.startswith(f"WARNING detector.data.images: {path}: Corrupt EXIF") for line in said), said


def test_jpeg_s_other_suffixes_and_avif_are_read_and_heic_is_listed_not_skipped(tmp_path):
    """trial 55: a folder of a.jpg, c.jfif, d.jpe and g.heic ran a.jpg alone and said nothing of the others."""
    d = tmp_path / "imgs"
    d.mkdir()
    img = Image.fromarray(np.full((6, 8, 3), 120, np.uint8))
    for name in ("a.jpg", "c.JFIF", "d.jpe"):
        img.save(d / name, format="JPEG")
    img.save(d / "e.avif", format="AVIF")
    (d / "g.heic").write_bytes(b"\x00\x00\x00\x18ftypheic")
    (d / "notes.md").write_text("not an image")
    found = scan_images(d)
    assert [i.name for i in found] == ["a.jpg", "c.JFIF", "d.jpe", "e.avif", "g.heic"]
    assert [i.problem is None for i in found] == [True, True, True, True, False]
    assert "HEIC/HEIF image, which Pillow does not decode: convert it to JPEG or PNG" in found[-1].problem
    for i in found[:4]:
        assert load_image(i.path).shape == (6, 8, 3)


def test_a_heic_photo_is_told_by_its_content(tmp_path):
    """trial 59: a HEIC photo in an image list, or renamed .jpg, was "cannot decode image (not an image file, or
    corrupt)": only a folder's .heic/.heif names were told as HEIC. Its 'ftyp' box says what it is; another ISO file
    (an MP4) or junk keeps the old words."""
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64)
    for name in ("photo.jpg", "photo.heic"):
        (tmp_path / name).write_bytes(heic)
        with pytest.raises(ImageError, match=r"photo\.\w+: a HEIC/HEIF image, which Pillow does not decode: convert "
                                             r"it to JPEG or PNG"):
            load_image(tmp_path / name)
    (tmp_path / "list.txt").write_text(f"{tmp_path / 'photo.jpg'}\n")
    with pytest.raises(ImageError, match="a HEIC/HEIF image"):
        load_image(list_images(tmp_path / "list.txt")[0])
    for data in (b"\x00\x00\x00\x18ftypisom\x00\x00\x00\x00" + bytes(64), b"junk"):
        (tmp_path / "x.jpg").write_bytes(data)
        with pytest.raises(ImageError, match=r"cannot decode image \(not an image file, or corrupt\)"):
            load_image(tmp_path / "x.jpg")
