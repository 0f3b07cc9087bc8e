"""`detect inspect DIR` on a folder of members that `detect run --model DIR` refuses — classes that differ, one file
twice — says so and exits 1 (trial 57: it listed member 0's classes as "a model: 2 members", exit 0)."""

import shutil

from click.testing import CliRunner

from cli.main import cli
from detector.classifier import ClassifierSpec, build_classifier, save_member
from detector.data.vocab import Category
from test_presets import crops_model


def test_a_folder_of_members_with_other_classes_is_refused_as_run_refuses_it(tmp_path):
    folder = tmp_path / "ens"
    folder.mkdir()
    crops_model(folder / "member0.pt")
    spec = ClassifierSpec(arch="paper-bn", num_classes=2, input_size=96, width=0.25)
    save_member(folder / "member1.pt", build_classifier(spec).eval(), spec, (Category("gadget"),))
    r = CliRunner().invoke(cli, ["inspect", str(folder)])
    assert r.exit_code == 1, r.output
    assert "its classes differ" in r.output and "member1.pt" in r.output


def test_a_folder_holding_one_member_twice_is_refused(tmp_path):
    folder = tmp_path / "ens"
    folder.mkdir()
    crops_model(folder / "member0.pt")
    shutil.copy(folder / "member0.pt", folder / "member1.pt")
    r = CliRunner().invoke(cli, ["inspect", str(folder)])
    assert r.exit_code == 1 and "given twice" in r.output, r.output


def test_a_good_folder_is_still_listed(tmp_path):
    folder = tmp_path / "ens"
    folder.mkdir()
    crops_model(folder / "member0.pt")
    crops_model(folder / "member1.pt", seed=1)
    r = CliRunner().invoke(cli, ["inspect", str(folder)])
    assert r.exit_code == 0 and "(a model: 2 members)" in r.output, r.output


def test_one_epoch_is_not_one_epochs(tmp_path):
    spec = ClassifierSpec(arch="paper-bn", num_classes=2, input_size=96, width=0.25)
    save_member(tmp_path / "m.pt", build_classifier(spec).eval(), spec, (Category("gadget"),), train={"epoch": 1})
    r = CliRunner().invoke(cli, ["inspect", str(tmp_path / "m.pt")])
    assert r.exit_code == 0 and "trained: 1 epoch" in r.output and "1 epochs" not in r.output, r.output


def test_an_empty_or_text_pt_file_is_named_as_a_model_file_would_be(tmp_path):
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "text.pt").write_text("hello\n")
    r = CliRunner().invoke(cli, ["inspect", str(tmp_path / "empty.pt")])
    assert r.exit_code == 1 and "empty" in r.output and "annotation format" not in r.output, r.output
    r = CliRunner().invoke(cli, ["inspect", str(tmp_path / "text.pt")])
    assert r.exit_code == 1 and "text file" in r.output and "annotation format" not in r.output, r.output


def test_json_onto_a_member_of_the_folder_inspected_is_refused_and_the_member_kept(tmp_path):
    folder = tmp_path / "ens"
    folder.mkdir()
    crops_model(folder / "member0.pt")
    before = (folder / "member0.pt").read_bytes()
    r = CliRunner().invoke(cli, ["inspect", str(folder), "--json", str(folder / "member0.pt")])
    assert r.exit_code == 1 and "is a file this command reads" in r.output, r.output
    assert (folder / "member0.pt").read_bytes() == before


def test_a_multibox_network_is_described_and_a_folder_s_pt_suffix_may_be_capitals(tmp_path):
    """Trial 59: `detect inspect multibox.pt` said "not a detect-classifier/1 model file" (exit 1); a folder holding
    member0.PT (copied from another system) was "no annotation found", and `detect run --model` of it "no
    region-classifier model file"."""
    import json

    from test_cli_run import tiny_multibox

    mb = tiny_multibox(tmp_path / "mb.pt")
    r = CliRunner().invoke(cli, ["inspect", str(mb), "--json", str(tmp_path / "mb.json")])
    assert r.exit_code == 0, r.output
    assert "(a MultiBox proposal network: give it to `detect run --multibox`, not --model)" in r.output
    assert "3 boxes an image (K priors) · input 96 px · width 0.25" in r.output
    assert json.loads((tmp_path / "mb.json").read_text())["multibox"]["config"]["num_priors"] == 3
    folder = tmp_path / "ens"
    folder.mkdir()
    crops_model(folder / "member0.PT")
    r = CliRunner().invoke(cli, ["inspect", str(folder)])
    assert r.exit_code == 0 and "(a model: 1 member)" in r.output and "member0.PT" in r.output, r.output
    from detector.classifier import member_files

    assert member_files([folder]) == [folder / "member0.PT"]


def test_an_ensemble_json_names_its_members_whatever_the_case_of_their_suffix(tmp_path):
    """Trial 63: a `detect train ensemble` folder copied from another system, member0.PT and member1.PT beside its
    ensemble.json, was refused by run and inspect alike: "ensemble.json lists member0.pt, member1.pt, which the folder
    lacks" — the folder's model files are its *.pt in any case, its listing's too."""
    import json

    from detector.classifier import member_files

    folder = tmp_path / "ens"
    folder.mkdir()
    crops_model(folder / "member0.PT")
    crops_model(folder / "member1.Pt", seed=1)
    crops_model(folder / "member2.pt", seed=2)  # a leftover of a larger ensemble: not listed
    (folder / "ensemble.json").write_text(json.dumps({"members": [{"member": 0}, {"member": 1}]}))
    assert member_files([folder]) == [folder / "member0.PT", folder / "member1.Pt"]
    r = CliRunner().invoke(cli, ["inspect", str(folder)])
    assert r.exit_code == 0 and "(a model: 2 members)" in r.output and "member1.Pt" in r.output, r.output
    (folder / "member1.Pt").unlink()
    r = CliRunner().invoke(cli, ["inspect", str(folder)])
    assert r.exit_code == 1 and "ensemble.json lists member1.pt, which the folder lacks" in r.output, r.output


def test_a_folder_holding_only_a_multibox_network_describes_it(tmp_path):
    """Trial 63: `detect inspect proposals/models` (the bundled MultiBox network's folder) warned "multibox.pt left
    out" and failed "no region-classifier model file", where `detect inspect proposals/models/multibox.pt` describes
    it: the folder's one model file is described as that file is."""
    import json

    from test_cli_run import tiny_multibox

    folder = tmp_path / "models"
    folder.mkdir()
    tiny_multibox(folder / "multibox.pt")
    (folder / "README.md").write_text("the MultiBox network\n")
    r = CliRunner().invoke(cli, ["inspect", str(folder), "--json", str(tmp_path / "mb.json")])
    assert r.exit_code == 0, r.output
    assert f"{folder / 'multibox.pt'}  (a MultiBox proposal network: give it to `detect run --multibox`" in r.output
    assert "left out" not in r.output and "3 boxes an image (K priors)" in r.output, r.output
    assert json.loads((tmp_path / "mb.json").read_text())["multibox"]["config"]["num_priors"] == 3
    crops_model(folder / "member0.pt")  # beside a region classifier it is left out, as detect run --model leaves it
    r = CliRunner().invoke(cli, ["inspect", str(folder)])
    assert r.exit_code == 0 and "(a model: 1 member)" in r.output, r.output


def test_a_folder_of_pth_files_is_told_what_a_folder_s_model_files_are(tmp_path):
    """Trial 63: a folder holding member0.pth (PyTorch's other suffix) was "no region-classifier model file (*.pt)"
    for `detect run --model`, and "no … annotation found here; pass --format" for `detect inspect`: both now name
    the file and say how to use it."""
    folder = tmp_path / "ens"
    folder.mkdir()
    crops_model(folder / "member0.pth")
    said = (f"{folder}: no region-classifier model file (*.pt) in this folder (it holds member0.pth: a folder's model "
            "files are its *.pt — give such a file itself (")
    from test_presets import image_folder

    images = image_folder(tmp_path)
    for args in (["inspect", str(folder)], ["run", str(images), "--out", str(tmp_path / "b.json"), "--model",
                                            str(folder), "--no-cache"]):
        r = CliRunner().invoke(cli, args)
        assert r.exit_code == 1 and said in r.output and "pass --format" not in r.output, (args, r.output)


def test_a_pth_file_beside_the_members_is_named_as_left_out(tmp_path, caplog):
    """Trial 65: a folder holding member1.pt and member0.pth ran member1.pt alone, without a word of member0.pth."""
    import logging

    from detector.classifier import member_files

    folder = tmp_path / "ens"
    folder.mkdir()
    crops_model(folder / "member0.pth")
    crops_model(folder / "member1.pt", seed=1)
    with caplog.at_level(logging.WARNING):
        assert member_files([folder]) == [folder / "member1.pt"]
    assert any(f"{folder}: member0.pth left out: a folder's model files are its *.pt" in r.getMessage()
               for r in caplog.records), caplog.text
