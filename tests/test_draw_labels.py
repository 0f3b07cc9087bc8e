"""Labels of drawn detections stay readable on large photos (trial 42: 10 px text on a 6000 x 4000 image)."""

import numpy as np

from detector.draw import draw_detections


def _label_height(w, h):
    img = np.zeros((h, w, 3), np.uint8)
    box = np.array([[w * 0.3, h * 0.4, w * 0.6, h * 0.9]])
    out = np.asarray(draw_detections(img, box, np.array([0.9]), np.array([1]), ["bg", "person"]))
    x = int(w * 0.3) + 2  # the label's filled background sits above the box's top-left corner
    col = out[: int(h * 0.4), x]
    filled = np.nonzero(col.any(axis=1))[0]
    return filled.max() - filled.min() + 1 if len(filled) else 0


def test_label_grows_with_the_image():
    small, large = _label_height(500, 375), _label_height(6000, 4000)
    assert 8 <= small <= 20  # the default font's size, as before, on an ordinary photo
    assert large >= 50  # readable at a viewer's fit-to-screen scale (about 1/6 on a 6000-px photo)


def _luminance(rgb):
    c = np.asarray(rgb, float) / 255
    c = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return 0.2126 * c[..., 0] + 0.7152 * c[..., 1] + 0.0722 * c[..., 2]


def test_label_text_contrasts_with_its_background():
    """Every label's text reads against its filled patch (trial 51: black on the dark blue of `person`, label 124,
    had a contrast of 3.3:1, and 14 of the 200 classes' colours under 3:1): the text colour is whichever of black and
    white contrasts more, at least 4.5:1 (WCAG AA) for every label."""
    worst = np.inf
    for label in range(1, 201):
        img = np.full((200, 300, 3), 128, np.uint8)
        out = np.asarray(draw_detections(img, np.array([[50.0, 100.0, 250.0, 190.0]]), np.array([0.9]),
                                         np.array([label]), {label: "person"}))
        above = out[:100]  # the label sits above the box's top-left corner, on the grey picture
        patch = above[(above != 128).any(axis=2)]
        colours, counts = np.unique(patch, axis=0, return_counts=True)
        fill = colours[counts.argmax()]
        text = colours[np.argmax([np.abs(c.astype(int) - fill.astype(int)).sum() for c in colours])]
        hi, lo = sorted((_luminance(fill), _luminance(text)), reverse=True)
        worst = min(worst, (hi + 0.05) / (lo + 0.05))
    assert worst >= 4.5, worst


def _label_columns(x1):
    img = np.full((200, 300, 3), 128, np.uint8)
    out = np.asarray(draw_detections(img, np.array([[x1, 100.0, 299.0, 190.0]]), np.array([0.31]), np.array([1]),
                                     {1: "tv or monitor"}))
    cols = np.nonzero((out[:97] != 128).any(axis=2).any(axis=0))[0]  # the label, above the box's top line
    return cols.min(), cols.max()


def test_label_of_a_box_at_the_right_edge_stays_in_the_picture():
    """A box at the image's right edge has its whole label shown, moved left to fit (trial 51: "person 0.31" lost
    the end of its score on a 500-px photo; a longer name lost more), not cut at the edge."""
    left, right = _label_columns(60.0)
    width = right - left + 1
    left_edge, right_edge = _label_columns(280.0)
    assert right_edge - left_edge + 1 == width and right_edge <= 299


def test_labels_of_neighbouring_boxes_do_not_hide_each_other():
    """trial 51, 56: two people side by side, their boxes' tops level — the weaker one's label was drawn under the
    stronger one's ("person 0.69 4…"). Each label now takes the first free place: above the box, inside its top,
    below it, inside its bottom."""
    from PIL import Image, ImageDraw

    from detector.draw import _label_place

    img = np.full((200, 300, 3), 128, np.uint8)
    boxes = np.array([[40.0, 60.0, 120.0, 180.0], [60.0, 60.0, 140.0, 180.0], [80.0, 61.0, 160.0, 181.0]])
    out = np.asarray(draw_detections(img, boxes, np.array([0.9, 0.8, 0.7]), np.array([1, 1, 1]), {1: "person"}))
    font_box = ImageDraw.Draw(Image.new("RGB", (1, 1))).textbbox((0, 0), "person 0.90")
    w, h = font_box[2] - font_box[0] + 4, font_box[3] - font_box[1] + 4
    taken = []
    for b in boxes:  # strongest first, as draw_detections places them
        taken.append(_label_place(b, w, h, (300, 200), taken))
    assert taken[0][1] == 60 - h  # the best box's label where it always was, above its top-left corner
    assert taken[1][1] == 60 and taken[2][1] == 181  # the others inside the top, then below the bottom
    for k, a in enumerate(taken):
        for bb in taken[k + 1:]:
            assert not (a[0] < bb[2] and bb[0] < a[2] and a[1] < bb[3] and bb[1] < a[3])
    # each label's filled patch is there in the picture, in its box's colour, with its text on it
    for x1, y1, x2, y2 in taken:
        patch = out[int(y1) + 1 : int(y2) - 1, int(x1) + 1 : int(x2) - 1]
        assert (patch != 128).all(axis=2).mean() > 0.9


def test_a_picture_in_a_format_pillow_only_reads_is_a_value_error(tmp_path):
    """trial 58: `.psd` (Pillow reads Photoshop files, writes none) raised KeyError 'PSD', not the ValueError the
    docstring promises (which the run lists under drawing_errors)."""
    import pytest

    from detector.draw import write_drawing

    img = np.zeros((20, 30, 3), np.uint8)
    for name in ("a.psd", "b.xyz"):
        with pytest.raises(ValueError, match="no image format writes"):
            write_drawing(tmp_path, name, img, np.zeros((0, 4)), np.zeros(0), np.zeros(0, int), {}, 0.3)
    assert write_drawing(tmp_path, "c.png", img, np.zeros((0, 4)), np.zeros(0), np.zeros(0, int), {}, 0.3).exists()


def test_a_label_with_no_free_place_takes_the_least_covered_one():
    """trial 59: when stronger labels took all four places (above, inside the top, below, inside the bottom), the
    label went above the box, however much of it they hid — on crowded COCO pictures at --draw-threshold 0.1, twice
    the hidden area of taking the least covered place. Now the least covered place, the first of equals."""
    from detector.draw import _label_place

    box, w, h, size = (40.0, 60.0, 120.0, 180.0), 60.0, 14.0, (300, 250)
    above, top, below = (40.0, 46.0, 100.0, 60.0), (40.0, 60.0, 100.0, 74.0), (40.0, 180.0, 100.0, 194.0)
    corner = (40.0, 166.0, 50.0, 170.0)  # a small part of the place inside the bottom
    assert _label_place(box, w, h, size, [above, top, below, corner]) == (40.0, 166.0, 100.0, 180.0)
    assert _label_place(box, w, h, size, [above, top, below, (40.0, 166.0, 100.0, 180.0)]) == (40.0, 46.0, 100.0,
                                                                                             60.0)  # equals: first
    assert _label_place(box, w, h, size, [top]) == (40.0, 46.0, 100.0, 60.0)  # a free place: as before
