"""Penn-Fudan's object-count warning agrees in number (trial 47: "but 1 Bounding box line follow")."""
from detector.data.readers import read_dataset

ANN = """# Compatible with PASCAL Annotation Version 1.00
Image filename : "PennFudanPed/PNGImages/a.png"
Image size (X x Y x C) : 100 x 80 x 3
Objects with ground truth : 3 { "PASpersonWalking" }
Bounding box for object 1 "PASpersonWalking" (Xmin, Ymin) - (Xmax, Ymax) : (10, 10) - (40, 60)
"""


def test_one_box_line_follows(tmp_path):
    (tmp_path / "Annotation").mkdir()
    (tmp_path / "Annotation" / "a.txt").write_text(ANN)
    ds = read_dataset(tmp_path, "pennfudan", strict=False)
    said = [p.message for p in ds.problems]
    assert any("'Objects with ground truth : 3' but 1 Bounding box line follows" in m for m in said), said
