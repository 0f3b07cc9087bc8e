import numpy as np
import pytest

from detector.data import boxes as B


def test_coco_round_trip():
    xywh = np.array([[10, 20, 30, 40], [0.5, 1.5, 2.0, 3.0]], dtype=np.float32)
    xyxy = B.xywh_to_xyxy(xywh)
    np.testing.assert_allclose(xyxy, [[10, 20, 40, 60], [0.5, 1.5, 2.5, 4.5]])
    np.testing.assert_allclose(B.xyxy_to_xywh(xyxy), xywh)


def test_voc_is_one_based_inclusive():
    # a VOC box covering pixels 1..10 (1-based) is 10 pixels wide: continuous [0, 10)
    xyxy = B.voc_to_xyxy([1, 1, 10, 20])
    np.testing.assert_allclose(xyxy, [[0, 0, 10, 20]])
    np.testing.assert_allclose(B.xyxy_to_voc(xyxy), [[1, 1, 10, 20]])


def test_ilsvrc_is_zero_based_inclusive():
    # an ILSVRC box covering pixels 0..9 (0-based inclusive) is 10 pixels wide: continuous [0, 10)
    xyxy = B.ilsvrc_to_xyxy([0, 5, 9, 14])
    np.testing.assert_allclose(xyxy, [[0, 5, 10, 15]])
    np.testing.assert_allclose(B.xyxy_to_ilsvrc(xyxy), [[0, 5, 9, 14]])


def test_iou_hand_computed():
    a = [[0, 0, 10, 10]]
    b = [[0, 0, 10, 10], [5, 0, 15, 10], [10, 10, 20, 20], [2, 2, 4, 4]]
    np.testing.assert_allclose(B.box_iou(a, b), [[1.0, 50 / 150, 0.0, 4 / 100]])


def test_iou_equals_devkit_inclusive_iou():
    # devkit: inclusive boxes, widths (x2 - x1 + 1); ours after the +1 fold must agree exactly
    rng = np.random.default_rng(0)
    for _ in range(50):
        p = np.sort(rng.integers(0, 100, size=(2, 2)), axis=0)
        q = np.sort(rng.integers(0, 100, size=(2, 2)), axis=0)
        bb = [p[0, 0], p[0, 1], p[1, 0], p[1, 1]]
        gt = [q[0, 0], q[0, 1], q[1, 0], q[1, 1]]
        bi = [max(bb[0], gt[0]), max(bb[1], gt[1]), min(bb[2], gt[2]), min(bb[3], gt[3])]
        iw, ih = bi[2] - bi[0] + 1, bi[3] - bi[1] + 1
        if iw > 0 and ih > 0:
            ua = (bb[2] - bb[0] + 1) * (bb[3] - bb[1] + 1) + (gt[2] - gt[0] + 1) * (gt[3] - gt[1] + 1) - iw * ih
            expected = iw * ih / ua
        else:
            expected = 0.0
        got = B.box_iou(B.ilsvrc_to_xyxy(bb), B.ilsvrc_to_xyxy(gt))[0, 0]
        assert got == pytest.approx(expected, abs=1e-12)


def test_bad_shape_names_it():
    with pytest.raises(ValueError, match=r"\[N, 4\].*\(2, 3\)"):
        B.as_boxes(np.zeros((2, 3)))
    assert B.as_boxes([]).shape == (0, 4)


def test_atomic_write_mode_and_no_leftovers(tmp_path):
    import os

    from detector.data.io import atomic_write_json

    p = atomic_write_json(tmp_path / "sub" / "x.json", {"a": 1})
    assert p.read_text().strip() == '{\n "a": 1\n}'
    assert os.stat(p).st_mode & 0o777 == 0o666 & ~_current_umask()
    with pytest.raises(ValueError):  # NaN is refused; the old file stays whole and no temp file is left
        atomic_write_json(p, {"a": float("nan")})
    assert p.read_text().strip() == '{\n "a": 1\n}' and os.listdir(p.parent) == ["x.json"]


def test_atomic_write_names_the_file_when_the_disk_is_full(tmp_path):
    """A write that fails for want of room (ENOSPC, or EFBIG under a file-size limit) is an OSError naming the file
    asked for — also when torch.save turned its file object's OSError into a RuntimeError ("unexpected pos …"),
    which reached a training run's user as a traceback (user trial 32) — and leaves no temporary file."""
    import errno
    import os

    from detector.data.io import atomic_write

    def torch_like(f):
        try:
            f.write(b"x")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 14795904 vs 14795800")

    def plain(f):
        raise OSError(errno.EFBIG, os.strerror(errno.EFBIG))

    target = tmp_path / "m.pt"
    for write, code in ((torch_like, errno.ENOSPC), (plain, errno.EFBIG)):
        with pytest.raises(OSError) as info:
            atomic_write(target, write)
        assert info.value.errno == code and info.value.filename == str(target)
        assert os.strerror(code) in str(info.value) and os.listdir(tmp_path) == []
    with pytest.raises(RuntimeError):  # an error that is no failed write stays what it is
        atomic_write(target, lambda f: (_ for _ in ()).throw(RuntimeError("not an I/O error")))
    assert os.listdir(tmp_path) == []


def _current_umask():
    import os

    m = os.umask(0)
    os.umask(m)
    return m


def test_differences_name_only_the_member_files_that_changed():
    """Trial 52: a member retrained in place was named among every member's path and hash (8 entries for 4
    members) to be compared by eye; a member named another way (same bytes) is no difference at all."""
    from detector.data.boxes_json import differences

    before = {"files": ["m/member0.pt", "m/member1.pt"], "files_sha256": ["a" * 64, "b" * 64]}
    now = {"files": ["m/member0.pt", "m/member1.pt"], "files_sha256": ["c" * 64, "b" * 64]}
    assert differences(before, now) == (f"model files: m/member0.pt (sha256 {'c' * 12}…) now, m/member0.pt "
                                        f"(sha256 {'a' * 12}…) before")
    assert differences(before, dict(before, files=["/abs/m/member0.pt", "/abs/m/member1.pt"])) == ""


def test_file_sha256_sees_a_file_rewritten_with_its_old_mtime(tmp_path):
    """The digest is kept per version of a file (one run asks it three times per member); trial 53: a file
    rewritten with the same size and its old modification time put back (touch -r) gave the old digest."""
    import hashlib
    import os

    from detector.data.io import file_sha256

    f = tmp_path / "m.pt"
    f.write_bytes(b"a" * 100)
    first = file_sha256(f)
    st = f.stat()
    f.write_bytes(b"b" * 100)
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert file_sha256(f) == hashlib.sha256(b"b" * 100).hexdigest() != first


def test_atomic_write_a_long_legal_name(tmp_path):
    """A file name near the file system's limit (255 bytes) is written: the temporary file beside it has a name of
    its own length (``.NAME.XXXXXXXX.tmp`` was 14 bytes longer: a `detect run --out` of a 242-byte name ran every
    image, then ended "File name too long" — and so did each --resume; a drawing of a 244-byte image name was lost)."""
    import os

    from detector.data.io import atomic_write_text

    for name in ("x" * 250 + ".json", "é" * 120 + ".json"):  # 255 bytes; 245 bytes of UTF-8
        assert len(os.fsencode(name)) <= 255
        p = atomic_write_text(tmp_path / name, "ok")
        assert p.read_text() == "ok" and p.name == name
    assert sorted(os.listdir(tmp_path)) == sorted(["x" * 250 + ".json", "é" * 120 + ".json"])
