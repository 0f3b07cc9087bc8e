"""Trial 69: a boxes.json that another tool saved again with a byte-order mark (a Windows editor, PowerShell's
`Set-Content -Encoding utf8`) or as UTF-16 is still one — `detect eval` reads it and `--out` replaces it as an
earlier output —, yet `detect merge` refused such a part ("not a readable boxes.json (Unexpected UTF-8 BOM …)") and
`detect run --resume` did not know such a finished output as its own: it ran the whole job again."""

import codecs
import json

from click.testing import CliRunner

from cli.main import cli
from test_batch_jobs import graded_model, invoke, make_images, run_args


def test_merge_and_resume_read_a_boxes_json_saved_again_with_a_bom_or_as_utf16(tmp_path):
    images = make_images(tmp_path / "imgs", 3)
    model = graded_model(tmp_path / "m.pt")
    full = tmp_path / "full.json"
    invoke(run_args(images, full, model))
    parts = []
    for i in range(2):
        parts.append(tmp_path / f"p{i}.json")
        invoke(run_args(images, parts[-1], model, "--shard", f"{i}/2"))
    parts[0].write_bytes(codecs.BOM_UTF8 + parts[0].read_bytes())
    parts[1].write_bytes(parts[1].read_text().encode("utf-16"))
    merged = tmp_path / "merged.json"
    res = CliRunner().invoke(cli, ["merge", *map(str, parts), "--out", str(merged)])
    assert res.exit_code == 0, res.output
    assert json.loads(merged.read_text()) == json.loads(full.read_text())

    saved = codecs.BOM_UTF8 + full.read_bytes()
    full.write_bytes(saved)
    res = CliRunner().invoke(cli, run_args(images, full, model, "--resume"))
    assert res.exit_code == 0, res.output
    assert "nothing to resume" in res.output and "is this job's finished output" in res.output, res.output
    assert full.read_bytes() == saved  # kept as it is, not run again
