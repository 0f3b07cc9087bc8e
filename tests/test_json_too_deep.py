"""A JSON file nested deeper than Python's json reads ('[' * 100000: json.loads raises RecursionError, not
JSONDecodeError) is an error naming the file, not a traceback, wherever a JSON file is read (fix65)."""

from pathlib import Path

from click.testing import CliRunner

from cli.main import cli

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "annotations.json"


def test_a_json_file_nested_too_deep_is_named_not_a_traceback(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    for args, what in ((["eval", "--gt", str(deep), "--pred", str(SAMPLES)], "not a COCO instances file"),
                       (["eval", "--gt", str(SAMPLES), "--pred", str(deep)], "no predictions in any format"),
                       (["merge", str(deep), "--out", str(tmp_path / "m.json")], "not a boxes.json")):
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 1, res.output
        assert f"{deep}: nested deeper than a JSON reader goes" in res.output and what in res.output, res.output
        assert "Traceback" not in res.output
