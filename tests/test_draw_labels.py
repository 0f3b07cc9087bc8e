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
