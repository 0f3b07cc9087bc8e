"""`detect proposals --out` writes boxes rounded to 0.1 px and MultiBox scores to 4 decimals as short decimals, not
the float32 neighbours of those roundings (trial 22: 225.2 came out as 225.1999969482422)."""
import json

import numpy as np

from cli.proposals_cmd import _measure


def test_out_document_has_short_decimals():
    boxes = np.array([[225.23, 113.61, 513.77, 454.66], [63.3, 142.5, 238.0, 391.9]], np.float32)
    scores = np.array([0.99981, 0.91759], np.float32)
    image = np.zeros((500, 600, 3), np.uint8)
    _, doc = _measure("multibox", [("a.png", image, boxes, scores, 0.01, None)], {"a.png": "a.png"}, [], None, None)
    e = doc["images"][0]
    assert e["boxes"] == [[225.2, 113.6, 513.8, 454.7], [63.3, 142.5, 238.0, 391.9]]
    assert e["scores"] == [0.9998, 0.9176]
    text = json.dumps(doc)
    assert "225.2," in text and "0.9998," in text and "99999" not in text
