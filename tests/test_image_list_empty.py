"""An ILSVRC `--image-list` that lists no image is an error naming the file, not an empty dataset (trial 47:
`detect inspect DIR --image-list empty.txt --strict` reported 0 images, 0 problems and exited 0)."""
import pytest
from click.testing import CliRunner

from cli.main import cli
from detector.data import read_image_list
from detector.data.dataset import DatasetError

XML = ("<annotation><filename>a</filename><size><width>50</width><height>40</height></size><object><name>n00007846"
       "</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>20</xmax><ymax>20</ymax></bndbox></object></annotation>")


@pytest.mark.parametrize("text", ["", "\n  \n", "\ufeff"])
def test_empty_list_is_refused(tmp_path, text):
    lst = tmp_path / "val.txt"
    lst.write_text(text)
    with pytest.raises(DatasetError, match="no image"):
        read_image_list(lst)


def test_inspect_with_an_empty_list_fails_naming_it(tmp_path):
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / "a.xml").write_text(XML)
    lst = tmp_path / "val.txt"
    lst.write_text("")
    res = CliRunner().invoke(cli, ["inspect", str(tmp_path / "ann"), "--format", "ilsvrc", "--image-list", str(lst),
                                   "--no-image-check", "--strict"])
    assert res.exit_code == 1, res.output
    assert str(lst) in res.output and "no image" in res.output, res.output
    lst.write_text("a 1\n")  # a list of one image still reads
    res = CliRunner().invoke(cli, ["inspect", str(tmp_path / "ann"), "--format", "ilsvrc", "--image-list", str(lst),
                                   "--no-image-check"])
    assert res.exit_code == 0 and "images                       1" in res.output, res.output
