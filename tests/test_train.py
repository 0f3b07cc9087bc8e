import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from cli.main import cli
from detector.classifier import ClassifierSpec, load_ensemble, load_member
from detector.data import box_iou, read_dataset
from detector.data.vocab import ilsvrc_categories
from detector.nn.loop import last_path, state_path
from detector.train import (
    TrainConfig,
    TrainImage,
    build_class_list,
    encode_deltas,
    sample_regions,
    train_classifier,
)
from detector.pipeline import apply_box_deltas
from helpers import write_coco, write_images_gt

PERSON, DOG = ilsvrc_categories()[123], ilsvrc_categories()[57]


def synthetic_images(tmp_path, n=6, seed=0):
    """Noise images, each with one red rectangle (class 1) and sometimes a blue one (class 2)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        arr = rng.integers(0, 80, (64, 80, 3), dtype=np.uint8)
        x, y = int(rng.integers(0, 40)), int(rng.integers(0, 24))
        arr[y:y + 30, x:x + 30] = (220, 30, 30)
        boxes, labels = [[x, y, x + 30, y + 30]], [1]
        if i % 2:
            arr[5:25, 55:75] = (30, 30, 220)
            boxes.append([55, 5, 75, 25])
            labels.append(2)
        p = tmp_path / f"im{i}.png"
        Image.fromarray(arr).save(p)
        b = np.array(boxes, np.float32)
        props = np.concatenate([b + rng.normal(0, 2, b.shape), rng.uniform(0, 40, (20, 2)).repeat(2, 1)
                                + np.array([0, 0, 20, 20])]).astype(np.float32)
        out.append(TrainImage(p, 80, 64, b, np.array(labels), np.zeros((0, 4), np.float32), props))
    return out


SPEC = ClassifierSpec(arch="paper-bn", num_classes=3, input_size=96, width=0.25, context_pad=8, bbox_reg=True)


def config(**kw):
    base = dict(epochs=2, images_per_batch=3, regions_per_image=8, lr=0.02, warmup_iters=2, workers=0,
                val_every=0, seed=0, photometric=True, flip=True)
    return TrainConfig(**{**base, **kw})


def test_sampling_ratio_and_labels():
    b = np.array([[10, 10, 40, 40], [50, 5, 70, 25]], np.float32)
    props = np.array([[11, 11, 41, 41], [0, 0, 20, 20], [30, 30, 60, 60], [20, 20, 50, 50], [60, 40, 80, 64]],
                     np.float32)
    ti = TrainImage(None, 80, 64, b, np.array([1, 2]), np.zeros((0, 4), np.float32), props)
    rng = np.random.default_rng(0)
    cfg = config()
    for _ in range(20):
        boxes, labels, targets = sample_regions(ti, 16, cfg, rng)
        assert boxes.shape == (16, 4) and (labels > 0).sum() == 4  # 25 % foreground
        iou = box_iou(boxes, b).max(axis=1)
        assert np.all(iou[labels > 0] >= 0.5) and np.all(iou[labels == 0] < 0.5)
        assert np.all(iou[labels == 0] >= 0.1)  # background from [0.1, 0.5)
        # regression targets decode back to the ground truth
        fg = labels > 0
        dec = apply_box_deltas(torch.from_numpy(boxes[fg]), torch.from_numpy(targets[fg])[:, None, :])[:, 0]
        gt_of = b[np.argmax(box_iou(boxes[fg], b), axis=1)]
        np.testing.assert_allclose(dec.numpy(), gt_of, atol=1e-3)
    # an image without objects: all background
    empty = TrainImage(None, 80, 64, np.zeros((0, 4), np.float32), np.zeros(0, np.int64),
                       np.zeros((0, 4), np.float32), props)
    _, labels, _ = sample_regions(empty, 16, cfg, rng)
    assert (labels == 0).all()


def test_encode_decode_round_trip():
    p = np.array([[10, 10, 50, 30]], np.float32)
    g = np.array([[12, 8, 60, 33]], np.float32)
    d = encode_deltas(p, g)
    out = apply_box_deltas(torch.from_numpy(p), torch.from_numpy(d)[:, None, :])[0, 0].numpy()
    np.testing.assert_allclose(out, g[0], atol=1e-4)


def test_training_lowers_loss_and_writes_log(tmp_path):
    images = synthetic_images(tmp_path, n=6)
    log = tmp_path / "m.log.jsonl"
    state = train_classifier(images, [PERSON, DOG], SPEC, config(epochs=6), tmp_path / "m.pt")
    losses = [r["loss"] for r in state.history]
    assert losses[-1] < losses[0]
    lines = log.read_text().splitlines()
    assert len(lines) == 6
    recs = [json.loads(line) for line in lines]  # valid JSONL
    assert [r["epoch"] for r in recs] == list(range(1, 7)) and all(r["regions_per_s"] > 0 for r in recs)
    m = load_member(tmp_path / "m.pt")
    assert m.train["epoch"] == 6 and [c.name for c in m.classes] == ["person", "dog"]
    assert load_member(last_path(tmp_path / "m.pt")).train["epoch"] == 6


def test_resume_equals_uninterrupted(tmp_path):
    images = synthetic_images(tmp_path, n=6)
    a = tmp_path / "a" / "m.pt"
    train_classifier(images, [PERSON, DOG], SPEC, config(epochs=3), a)
    b = tmp_path / "b" / "m.pt"
    train_classifier(images, [PERSON, DOG], SPEC, config(epochs=1), b)  # "killed" after epoch 1
    assert state_path(b).is_file()
    st = train_classifier(images, [PERSON, DOG], SPEC, config(epochs=3), b, resume=True)
    assert [r["epoch"] for r in st.history] == [1, 2, 3]
    sa = torch.load(state_path(a), weights_only=True)
    sb = torch.load(state_path(b), weights_only=True)
    for k, v in sa["model"].items():
        torch.testing.assert_close(sb["model"][k], v, rtol=0, atol=0, msg=k)
    assert json.loads(sa["history"])[-1]["loss"] == json.loads(sb["history"])[-1]["loss"]


def test_data_loading_in_worker_processes(tmp_path):
    images = synthetic_images(tmp_path, n=4)
    a = train_classifier(images, [PERSON, DOG], SPEC, config(epochs=1, workers=0), tmp_path / "a.pt")
    b = train_classifier(images, [PERSON, DOG], SPEC, config(epochs=1, workers=2), tmp_path / "b.pt")
    assert a.history[0]["loss"] == pytest.approx(b.history[0]["loss"], rel=1e-5)  # same batches either way


def test_build_class_list_maps_onto_ilsvrc(tmp_path):
    Image.new("RGB", (10, 10)).save(tmp_path / "a.jpg")  # b.jpg is missing: its dog is no class to learn (trial)
    write_coco(tmp_path / "c.json", [{"id": 1, "file_name": "a.jpg", "width": 10, "height": 10},
                                     {"id": 2, "file_name": "b.jpg", "width": 10, "height": 10}],
               [{"id": 1, "image_id": 1, "category_id": 2, "bbox": [0, 0, 5, 5]},
                {"id": 2, "image_id": 1, "category_id": 3, "bbox": [0, 0, 5, 5]},
                {"id": 3, "image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5]},
                {"id": 4, "image_id": 2, "category_id": 4, "bbox": [0, 0, 5, 5]}],
               [{"id": 1, "name": "giraffe"}, {"id": 2, "name": "couch"}, {"id": 3, "name": "person"},
                {"id": 4, "name": "dog"}])
    classes = build_class_list([read_dataset(tmp_path / "c.json")])
    assert [(c.name, c.det_id) for c in classes] == [("person", 124), ("sofa", 164), ("giraffe", None)]


def test_train_ensemble_cli_then_run(tmp_path):
    images = synthetic_images(tmp_path, n=4)
    write_images_gt(tmp_path / "gt.json", images)
    out = tmp_path / "ens"
    args = ["train", "ensemble", "--members", "2", "--gt", str(tmp_path / "gt.json"), "--val",
            str(tmp_path / "gt.json"), "--out", str(out), "--input-size", "96", "--width", "0.25", "--epochs", "1",
            "--batch-size", "32", "--workers", "0", "--cache-dir", str(tmp_path / "cache"), "--half"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    members = load_ensemble([out])
    assert len(members) == 2 and {m.train["ensemble_member"] for m in members} == {0, 1}
    assert members[0].train["config"]["seed"] != members[1].train["config"]["seed"]
    assert "val_mAP" in members[0].train
    res = CliRunner().invoke(cli, ["run", str(images[0].path), "--model", str(out), "--out", str(tmp_path / "b.json"),
                                   "--workers", "0", "--cache-dir", str(tmp_path / "cache")])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "b.json").read_text())["model"]["members"] == 2


def test_a_stopped_training_says_how_to_resume(tmp_path, monkeypatch):
    """User trial: Ctrl-C or SIGTERM in `detect train` ended it with a traceback (or silently) and did not mention
    --resume. Now: exit 130 (143), what is kept, and --resume goes on from the finished epoch."""
    from cli import train_cmd

    images = synthetic_images(tmp_path, n=3)
    write_images_gt(tmp_path / "gt.json", images)
    out = tmp_path / "m.pt"
    args = ["train", "classifier", "--gt", str(tmp_path / "gt.json"), "--out", str(out), "--input-size", "96",
            "--width", "0.25", "--epochs", "2", "--batch-size", "16", "--workers", "0", "--cache-dir",
            str(tmp_path / "cache"), "--val-every", "0"]
    real, epochs = train_cmd.tqdm, []

    def stop_in_epoch_2(loader, **kw):
        epochs.append(kw.get("desc"))
        if str(kw.get("desc")).startswith("epoch 2/"):
            raise KeyboardInterrupt
        return real(loader, **kw)

    monkeypatch.setattr(train_cmd, "tqdm", stop_in_epoch_2)
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 130 and "Traceback" not in res.output, res.output
    assert f"stopped: each finished epoch is kept ({state_path(out)}); to go on, run the same command again with " \
        "--resume" in res.output
    monkeypatch.setattr(train_cmd, "tqdm", real)
    res = CliRunner().invoke(cli, [*args, "--resume"])
    assert res.exit_code == 0 and "--resume: no" not in res.output, res.output
    assert [json.loads(line)["epoch"] for line in (tmp_path / "m.log.jsonl").read_text().splitlines()] == [1, 2]
    # resuming the finished run: nothing trained or rewritten, and it says so (it re-printed the run as if trained)
    model_bytes = out.read_bytes()
    res = CliRunner().invoke(cli, [*args, "--resume"])
    assert res.exit_code == 0 and f"nothing to resume: {out} finished its 2 epochs already" in res.output, res.output
    assert "epoch   1" not in res.output and out.read_bytes() == model_bytes
    assert len((tmp_path / "m.log.jsonl").read_text().splitlines()) == 2
    # ... but other settings are refused as for a stopped run (trial 23: "nothing to resume" was said instead)
    res = CliRunner().invoke(cli, [*args, "--resume", "--lr", "0.5"])
    assert res.exit_code == 1 and f"cannot resume {out}: it was started with other training settings (--lr 0.5 " \
        "now" in res.output, res.output
    # stopped in its first epoch: nothing is kept, and it says so (it said "each finished epoch is kept"); a
    # --resume then says that it starts from the first epoch
    for f in tmp_path.glob("m.*"):
        f.unlink()

    def stop_in_epoch_1(loader, **kw):
        if str(kw.get("desc")).startswith("epoch 1/"):
            raise KeyboardInterrupt
        return real(loader, **kw)

    monkeypatch.setattr(train_cmd, "tqdm", stop_in_epoch_1)
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 130 and "stopped before its first epoch ended: nothing is kept" in res.output, res.output
    res = CliRunner().invoke(cli, [*args, "--resume"])
    assert f"--resume: no {state_path(out)} (no epoch of a run writing {out} has finished): starting from the " \
        "first epoch" in res.output, res.output


def test_training_protects_its_inputs_and_a_stopped_run(tmp_path, monkeypatch):
    """User trial: `--out` named the training annotations (or another run's log) and replaced them with a model;
    a stopped run started again without --resume silently threw its epochs away; a wrong --init was found only
    after the proposals of every image; a validation set sharing no class with training scored 0 every epoch
    without a word; the epoch lines came only at the end (nothing in a Slurm log while it trained)."""
    import torch

    from cli import train_cmd

    images = synthetic_images(tmp_path, n=3)
    gt = write_images_gt(tmp_path / "gt.json", images)
    val = write_images_gt(tmp_path / "val.json", images, categories=("umbrella", "giraffe"))
    gt_bytes = gt.read_bytes()
    base = ["train", "classifier", "--gt", str(gt), "--input-size", "96", "--width", "0.25", "--batch-size", "16",
            "--workers", "0", "--cache-dir", str(tmp_path / "cache"), "--val-every", "0"]
    res = CliRunner().invoke(cli, [*base, "--out", str(gt), "--epochs", "1"])
    assert res.exit_code == 1 and f"--out {gt} would replace {gt} (--gt), an input of this run" in res.output, res.output
    (tmp_path / "other.log.jsonl").write_text('{"epoch": 1}\n')
    res = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / "other.log.jsonl"), "--epochs", "1"])
    assert res.exit_code == 1 and "exists and is not a model file" in res.output, res.output
    assert gt.read_bytes() == gt_bytes and (tmp_path / "other.log.jsonl").read_text() == '{"epoch": 1}\n'

    searched = []
    monkeypatch.setattr(train_cmd, "_proposals", lambda *a, **k: searched.append(1) or [])
    (tmp_path / "notes.pt").write_text("not weights")
    res = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / "m.pt"), "--init", str(tmp_path / "notes.pt")])
    assert res.exit_code == 1 and "notes.pt: cannot read weights" in res.output and not searched, res.output
    monkeypatch.undo()

    out = tmp_path / "m.pt"
    echoed = []
    real_echo = train_cmd._echo
    monkeypatch.setattr(train_cmd, "_echo", lambda *a, **k: echoed.append((a[0], out.exists())) or real_echo(*a, **k))
    res = CliRunner().invoke(cli, [*base, "--out", str(out), "--epochs", "2", "--val", str(val), "--val-every", "1"])
    assert res.exit_code == 0, res.output
    assert "--val" in res.output and "has no box of a class the model learns (its boxes are giraffe, umbrella)" \
        in res.output
    epoch_lines = [written for line, written in echoed if line.startswith("epoch ")]
    assert epoch_lines == [True, True]  # each printed when its epoch ended (the model file then exists)
    monkeypatch.undo()

    sp = state_path(out)  # as if stopped after epoch 2 of 5: a fresh run on it is refused, --resume goes on
    ck = torch.load(sp, weights_only=True)
    torch.save({**ck, "epochs": 5}, sp)
    res = CliRunner().invoke(cli, [*base, "--out", str(out), "--epochs", "1"])
    assert res.exit_code == 1 and f"{sp} holds a stopped run (2 of its 5 epochs done): add --resume" in res.output
    assert torch.load(sp, weights_only=True)["epoch"] == 2
    # resuming with other training data was accepted silently when the class count happened to match
    # — or with the same file edited (trial 3: the path was compared, not the content) —; an identical copy elsewhere
    # is the same data
    res = CliRunner().invoke(cli, [*base, "--gt", str(val), "--out", str(out), "--epochs", "3", "--resume"])
    assert res.exit_code == 1 and f"cannot resume {out}: it was started with other training data (--gt {gt} {val} " \
        f"now, {gt} in that run" in res.output, res.output
    edited = json.loads(gt_bytes)
    edited["annotations"][0]["bbox"][0] += 1
    gt.write_text(json.dumps(edited))
    res = CliRunner().invoke(cli, [*base, "--out", str(out), "--epochs", "3", "--resume"])
    assert res.exit_code == 1 and "other training data (--gt" in res.output and "other images, boxes or classes" \
        in res.output, res.output
    gt.write_bytes(gt_bytes)
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "gt.json").write_bytes(gt_bytes)
    base = [str(tmp_path / "copy" / "gt.json") if a == str(gt) else a for a in base]
    base += ["--images", str(tmp_path)]
    init = tmp_path / "init.pt"
    init.write_bytes(out.read_bytes())
    res = CliRunner().invoke(cli, [*base, "--out", str(out), "--epochs", "3", "--resume", "--init", str(init),
                                   "--val", str(val)])  # the run's own --val (another is refused: trial 32)
    assert res.exit_code == 0 and torch.load(sp, weights_only=True)["epoch"] == 3, res.output
    assert f"note: --init {init} is not used: the run goes on from its own state" in res.output


def test_an_ensemble_folder_runs_the_members_its_ensemble_json_lists(tmp_path, caplog):
    """Trial: `train ensemble --members 2` into a folder left with a `member2.pt` by an earlier 3-member run wrote an
    ensemble.json of two members, yet `detect run --model DIR` averaged all three. The member left out is warned of,
    with how to use it (trial 45: the warning did not say)."""
    from detector.classifier import CheckpointError, build_classifier, member_files, save_member

    for k in range(3):
        save_member(tmp_path / f"member{k}.pt", build_classifier(SPEC), SPEC, [PERSON, DOG])
    assert member_files([tmp_path]) == [tmp_path / f"member{k}.pt" for k in range(3)]
    (tmp_path / "ensemble.json").write_text(json.dumps({"members": [{"member": 0}, {"member": 1}]}))
    assert member_files([tmp_path]) == [tmp_path / "member0.pt", tmp_path / "member1.pt"]
    assert any("member2.pt not among the members its ensemble.json lists: left out (to use it, add it to that list, "
               "or give it as another --model)" in r.getMessage() for r in caplog.records), caplog.records
    (tmp_path / "ensemble.json").write_text(json.dumps({"members": [{"member": 0}, {"member": 5}]}))
    with pytest.raises(CheckpointError, match=r"ensemble\.json lists member5\.pt, which the folder lacks"):
        member_files([tmp_path])


def test_a_resume_with_other_validation_data_is_refused(tmp_path):
    """Trial 32: `--resume` with another --val was taken silently, and the best checkpoint then compared the new
    set's mAP with the earlier epochs' on the old one (0.69 on the training images beat 0.16). The README allows
    only --epochs, --workers, --threads and --val-every to change: another --val (or none) is refused, naming both;
    the same content at another path goes on."""
    import shutil

    images = synthetic_images(tmp_path, n=3)
    gt, val, other = tmp_path / "gt.json", tmp_path / "val.json", tmp_path / "other.json"
    write_images_gt(gt, images)
    write_images_gt(val, images[:2])
    write_images_gt(other, images[1:])
    out = tmp_path / "m.pt"
    args = ["train", "classifier", "--gt", str(gt), "--out", str(out), "--input-size", "96", "--width", "0.25",
            "--batch-size", "16", "--workers", "0", "--cache-dir", str(tmp_path / "cache")]
    res = CliRunner().invoke(cli, [*args, "--epochs", "1", "--val", str(val)])
    assert res.exit_code == 0, res.output
    state = state_path(out).read_bytes()
    for given, said in ((["--val", str(other)], f"--val {other}"), ([], "--val (none)")):
        res = CliRunner().invoke(cli, [*args, "--epochs", "2", "--resume", *given])
        assert res.exit_code == 1 and "Traceback" not in res.output, res.output
        assert f"cannot resume {out}: it was started with other validation data ({said} now, {val} in that run" \
            in res.output and f"delete {state_path(out)} to start over" in res.output, res.output
        assert state_path(out).read_bytes() == state  # nothing trained
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(val, copy / "val.json")
    for im in images[:2]:
        shutil.copy(im.path, copy / im.path.name)
    res = CliRunner().invoke(cli, [*args, "--epochs", "2", "--resume", "--val", str(copy / "val.json")])
    assert res.exit_code == 0 and "epoch   2" in res.output, res.output


def test_a_second_training_run_on_the_same_out_is_refused_while_the_first_runs(tmp_path):
    """Trial 32: the same `detect train classifier` started twice on one --out: both trained and ended with status
    0, the log held every epoch twice and the model was whichever wrote last. A run now holds `OUT.lock` (an
    ensemble: `DIR/ensemble.lock`) as `detect run` holds its output's; a second is refused before any work, naming
    the holder, and the lock goes when the run ends."""
    import os

    from detector.data.io import JobLock

    images = synthetic_images(tmp_path, n=3)
    gt = write_images_gt(tmp_path / "gt.json", images)
    out = tmp_path / "m" / "m.pt"
    common = ["--gt", str(gt), "--input-size", "96", "--width", "0.25", "--epochs", "1", "--batch-size", "16",
              "--workers", "0", "--cache-dir", str(tmp_path / "cache")]
    for cmd, target, lock_of in ((["train", "classifier", "--out", str(out)], out, out),
                                 (["train", "ensemble", "--members", "1", "--out", str(tmp_path / "e")],
                                  tmp_path / "e", tmp_path / "e" / "ensemble")):
        lock_of.parent.mkdir(parents=True, exist_ok=True)
        with JobLock(lock_of) as held:
            for extra in ([], ["--resume"]):
                res = CliRunner().invoke(cli, [*cmd, *common, *extra])
                assert res.exit_code == 1 and "Traceback" not in res.output, res.output
                assert f"another training run (process {os.getpid()}) is writing {target} now (it holds " \
                    f"{held.path}): wait for it to finish" in res.output, res.output
            assert sorted(p.name for p in lock_of.parent.iterdir()) == [held.path.name]  # nothing written
        res = CliRunner().invoke(cli, [*cmd, *common])
        assert res.exit_code == 0, res.output
        assert not held.path.exists() and any(p.suffix == ".pt" for p in lock_of.parent.iterdir())


def test_an_ensemble_holds_its_member_files_locks(tmp_path, monkeypatch):
    """Trial 34: while `detect train ensemble --out DIR` trained member0 (holding DIR/ensemble.lock alone), `detect
    train classifier --out DIR/member0.pt --resume` — what the refusal without --resume told the user to add — was
    not refused and trained beside it on the same model, state and log files. The ensemble now also holds each
    member file's lock (DIR/member<k>.pt.lock) for its whole run: a classifier run on a member file is refused while
    it trains, and an ensemble whose member file another run is writing is refused before any work."""
    import os

    from cli import train_cmd
    from detector.data.io import JobLock, LockedError

    images = synthetic_images(tmp_path, n=3)
    gt = write_images_gt(tmp_path / "gt.json", images)
    ens = tmp_path / "e"
    common = ["--gt", str(gt), "--input-size", "96", "--width", "0.25", "--epochs", "1", "--batch-size", "16",
              "--workers", "0", "--cache-dir", str(tmp_path / "cache")]
    ensemble = ["train", "ensemble", "--members", "2", "--out", str(ens), *common]
    ens.mkdir()
    with JobLock(ens / "member1.pt") as held:  # a classifier run writing DIR/member1.pt
        res = CliRunner().invoke(cli, ensemble)
        assert res.exit_code == 1 and "Traceback" not in res.output, res.output
        assert f"another training run (process {os.getpid()}) is writing {ens / 'member1.pt'} now (it holds " \
            f"{held.path})" in res.output, res.output
        assert not (ens / "member0.pt").exists() and not (ens / "ensemble.lock").exists()  # nothing trained
    refused = []
    real = train_cmd.train_member

    def train_member_beside_another(run, *a, **k):
        for member in (ens / "member0.pt", ens / "member1.pt"):
            try:
                JobLock(member).acquire().release()
            except LockedError:
                refused.append(member.name)
        return real(run, *a, **k)

    monkeypatch.setattr(train_cmd, "train_member", train_member_beside_another)
    res = CliRunner().invoke(cli, ensemble)
    assert res.exit_code == 0, res.output
    assert refused == ["member0.pt", "member1.pt"] * 2  # held while each member trains
    assert sorted(p.name for p in ens.iterdir() if p.suffix == ".lock") == []  # and released at the end


def test_a_stop_while_an_epoch_is_saved_lands_after_its_files(tmp_path, monkeypatch):
    """User trial: Ctrl-C between an epoch's model files and its resume state left `m.pt` and `m.last.ckpt` of a
    finished epoch with no state — "nothing is kept", and --resume started over. The signal now waits for the
    epoch's files: all are there, and the message says the epoch is kept — after the epoch's line (trial 32: a stop
    during the save kept the epoch without printing it, so the state held one epoch more than the screen showed)."""
    import os
    import signal

    from detector import train as train_module

    images = synthetic_images(tmp_path, n=3)
    write_images_gt(tmp_path / "gt.json", images)
    out = tmp_path / "m.pt"
    real_save = train_module.save_member

    def save_then_interrupt(path, *a, **k):
        written = real_save(path, *a, **k)
        os.kill(os.getpid(), signal.SIGINT)  # while the epoch is being saved, before its state file
        return written

    monkeypatch.setattr(train_module, "save_member", save_then_interrupt)
    # Python's own Ctrl-C handler, as in a terminal (a shell that starts a job in the background, as CI may, leaves
    # SIGINT ignored)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        res = CliRunner().invoke(cli, ["train", "classifier", "--gt", str(tmp_path / "gt.json"), "--out", str(out),
                                       "--input-size", "96", "--width", "0.25", "--epochs", "2", "--batch-size", "16",
                                       "--workers", "0", "--cache-dir", str(tmp_path / "cache"), "--val-every", "0"])
    finally:
        signal.signal(signal.SIGINT, previous)
    assert res.exit_code == 130 and "each finished epoch is kept" in res.output, res.output
    assert out.is_file() and last_path(out).is_file() and state_path(out).is_file()
    assert torch.load(state_path(out), weights_only=True)["epoch"] == 1
    assert "epoch   1  loss" in res.output.split("stopped")[0] and "epoch   2" not in res.output, res.output


def test_hard_negatives_are_drawn_as_background():
    """Hard negative mining: a model's detections off every object are background, up to --hard-fraction of an
    image's background share, each at most once; a detection on an object is that object's foreground; an image
    whose labels are not exhaustive never takes them as background; without any, sampling is as before."""
    b = np.array([[10, 10, 40, 40]], np.float32)
    props = np.array([[11, 11, 41, 41], [20, 20, 50, 50], [5, 5, 30, 30], [15, 8, 45, 35]], np.float32)
    off = np.array([[55, 40, 79, 63], [0, 44, 20, 63]], np.float32)  # far from the object (IoU 0)
    on = np.array([[12, 9, 41, 38]], np.float32)  # on the object
    plain = TrainImage(None, 80, 64, b, np.array([1]), np.zeros((0, 4), np.float32), props)
    hard = TrainImage(None, 80, 64, b, np.array([1]), np.zeros((0, 4), np.float32), props,
                      hard_negatives=np.concatenate([off, on]))
    cfg = config()
    for seed in range(10):
        boxes, labels, _ = sample_regions(hard, 16, cfg, np.random.default_rng(seed))
        assert (labels > 0).sum() == 4
        for box in off:  # each hard negative once, as background (bg_iou_low 0.1 would never draw them otherwise)
            hits = np.flatnonzero((boxes == box).all(axis=1))
            assert len(hits) == 1 and labels[hits[0]] == 0
        assert (labels[(boxes == on[0]).all(axis=1)] == 1).all()  # the detection on the object: foreground
        a = sample_regions(plain, 16, cfg, np.random.default_rng(seed))
        c = sample_regions(TrainImage(None, 80, 64, b, np.array([1]), np.zeros((0, 4), np.float32), props,
                                      hard_negatives=np.zeros((0, 4), np.float32)), 16, cfg,
                           np.random.default_rng(seed))
        for x, y in zip(a, c):
            np.testing.assert_array_equal(x, y)
    boxes, labels, _ = sample_regions(hard, 16, config(hard_fraction=0.0), np.random.default_rng(0))
    assert not any((boxes == box).all(axis=1).any() for box in off)
    partial = TrainImage(None, 80, 64, b, np.array([1]), np.zeros((0, 4), np.float32), props, exhaustive=False,
                         hard_negatives=off)
    _, labels, _ = sample_regions(partial, 16, cfg, np.random.default_rng(0))
    assert (labels > 0).all()
    # trial: people inside a COCO crowd region (IoU with the crowd box < 0.5, but wholly inside it) were drawn as
    # hard background; a detection at least half inside an ignored object never is
    crowd = np.array([[44, 30, 80, 64]], np.float32)
    in_crowd = np.array([[56, 40, 70, 62]], np.float32)  # IoU with the crowd box 0.25, inside it entirely
    im = TrainImage(None, 80, 64, b, np.array([1]), crowd, props, hard_negatives=np.concatenate([in_crowd, off[1:]]))
    for seed in range(10):
        boxes, labels, _ = sample_regions(im, 16, config(hard_fraction=1.0), np.random.default_rng(seed))
        assert not (boxes == in_crowd[0]).all(axis=1).any()
        assert ((boxes == off[1]).all(axis=1) & (labels == 0)).sum() == 1
    # the same for a proposal (older note: selective-search boxes inside a crowd region could be background)
    im = TrainImage(None, 80, 64, b, np.array([1]), crowd, np.concatenate([props, in_crowd]))
    for seed in range(10):  # every region under IoU 0.5 may be background (R-CNN's), and there are few of them
        boxes, labels, _ = sample_regions(im, 64, config(bg_iou_low=0.0), np.random.default_rng(seed))
        assert not (boxes == in_crowd[0]).all(axis=1).any()


def test_train_with_hard_negatives_from_detect_run_output(tmp_path):
    """`detect train classifier --hard-negatives boxes.json`: detections matched to the training images by name
    (as `detect eval` matches them), recorded in the model, part of the data a resumed run must share; a file
    none of whose detections is on a training image, a text file, or one without image names are refused."""
    import torch

    images = synthetic_images(tmp_path, n=3)
    gt = write_images_gt(tmp_path / "gt.json", images)

    def boxes_json(path, names, sizes=(80, 64)):
        doc = {"images": [{"id": k + 1, "file_name": n, "width": sizes[0], "height": sizes[1]}
                          for k, n in enumerate(names)],
               "categories": [{"id": 124, "name": "person", "wnid": "n00007846"}],
               "detections": [{"image_id": k + 1, "category_id": 124, "bbox": [50.0, 35.0, 28.0, 27.0],
                               "score": 0.9} for k in range(len(names))] +
                             [{"image_id": 1, "category_id": 124, "bbox": [0.0, 40.0, 20.0, 20.0], "score": 0.4}],
               "errors": []}
        path.write_text(json.dumps(doc))
        return path

    dets = boxes_json(tmp_path / "dets.json", [f"some/where/{images[0].path.name}", images[2].path.name,
                                               "elsewhere.png"])
    out = tmp_path / "m.pt"
    base = ["train", "classifier", "--gt", str(gt), "--input-size", "96", "--width", "0.25", "--batch-size", "16",
            "--workers", "0", "--cache-dir", str(tmp_path / "cache"), "--val-every", "0", "--out", str(out)]
    res = CliRunner().invoke(cli, [*base, "--epochs", "1", "--hard-negatives", str(dets)])
    assert res.exit_code == 0, res.output
    assert f"hard negatives: {dets}: 3 detections on 2 of the 3 training images; 1 on other images left out" \
        in res.output, res.output
    m = load_member(out)
    assert m.train["hard_negatives"] == [str(dets)] and m.train["config"]["hard_fraction"] == 0.5
    # resuming with other hard negatives is other training data
    sp = state_path(out)
    torch.save({**torch.load(sp, weights_only=True), "epochs": 2}, sp)
    other = boxes_json(tmp_path / "other.json", [images[1].path.name])
    res = CliRunner().invoke(cli, [*base, "--epochs", "2", "--resume", "--hard-negatives", str(other)])
    assert res.exit_code == 1 and f"cannot resume {out}: it was started with other hard negatives (--hard-negatives " \
        f"{other} now, {dets} in that run). Give the same, or delete {sp} to start over" in res.output, res.output
    res = CliRunner().invoke(cli, [*base, "--epochs", "2", "--resume"])
    assert res.exit_code == 1 and f"(--hard-negatives (none) now, {dets} in that run)" in res.output, res.output
    res = CliRunner().invoke(cli, [*base, "--epochs", "2", "--resume", "--hard-negatives", str(dets),
                                   "--hard-fraction", "0.25"])
    assert res.exit_code == 1 and "(--hard-fraction 0.25 now, 0.5 in that run)" in res.output, res.output
    bom = tmp_path / "bom.json"  # the same detections as UTF-8 with a byte-order mark (detect eval reads it too)
    bom.write_bytes(b"\xef\xbb\xbf" + dets.read_bytes())
    res = CliRunner().invoke(cli, [*base, "--epochs", "2", "--resume", "--hard-negatives", str(bom)])
    assert res.exit_code == 0, res.output
    # trial 8: a finished run (an ensemble's finished member) "resumed" with other hard negatives said nothing, so an
    # ensemble's next member trained on other data
    res = CliRunner().invoke(cli, [*base, "--epochs", "2", "--resume", "--hard-negatives", str(dets),
                                   "--hard-fraction", "0.25"])
    assert res.exit_code == 1 and "(--hard-fraction 0.25 now, 0.5 in that run)" in res.output, res.output
    res = CliRunner().invoke(cli, [*base, "--epochs", "2", "--resume", "--hard-negatives", str(dets)])
    assert res.exit_code == 0 and "nothing to resume" in res.output, res.output

    new = ["--out", str(tmp_path / "n.pt")]
    nowhere = boxes_json(tmp_path / "nowhere.json", ["a.png", "b.png"])
    res = CliRunner().invoke(cli, [*base, *new, "--hard-negatives", str(nowhere)])
    assert res.exit_code == 1 and f"--hard-negatives {nowhere}: none of its 3 detections is on an image of the " \
        "training data (its images: 'a.png', 'b.png')" in res.output, res.output
    resized = boxes_json(tmp_path / "resized.json", [images[0].path.name], sizes=(40, 32))
    res = CliRunner().invoke(cli, [*base, *new, "--hard-negatives", str(resized)])
    assert res.exit_code == 1 and f"its image {images[0].path.name} is 40x32, the training image " \
        f"{images[0].path.name} 80x64: the detections are in other pixels" in res.output, res.output
    beyond = tmp_path / "beyond.json"  # COCO results record no size: a box beyond the image gives a resized copy away
    beyond.write_text(json.dumps([{"image_id": 1, "file_name": images[0].path.name, "category_id": 124,
                                   "bbox": [100.0, 70.0, 20.0, 20.0], "score": 0.5}]))
    res = CliRunner().invoke(cli, [*base, *new, "--hard-negatives", str(beyond)])
    assert res.exit_code == 1 and "reaches beyond the training image" in res.output, res.output
    (tmp_path / "empty.json").write_text("[]")
    res = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / "e.pt"), "--epochs", "1", "--hard-negatives",
                                   str(tmp_path / "empty.json"), "--hard-negatives", str(dets), "--hard-negatives",
                                   str(dets)])
    assert res.exit_code == 0 and "empty.json holds no detections" in res.output, res.output
    assert "3 detections on 2 of the 3 training images" in res.output  # the same file twice: each box once
    res = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / "f.pt"), "--epochs", "1", "--hard-fraction",
                                   "0.3", "--gt-partial", str(gt)])
    assert res.exit_code == 0 and "--hard-fraction is not used without --hard-negatives" in res.output, res.output
    # the same annotations twice (trial 23: taken without a word)
    assert f"warning: {gt} is given twice (--gt and --gt-partial): its images are trained on twice" in res.output
    # --gt-partial alone: click said only "Missing option '--gt'" (trial 24)
    res = CliRunner().invoke(cli, ["train", "classifier", "--out", str(tmp_path / "g.pt"), "--gt-partial", str(gt)])
    assert res.exit_code == 2 and "Missing option '--gt': regions of --gt-partial ground truth are never " \
        "background" in res.output and not (tmp_path / "g.pt").exists(), res.output
    (tmp_path / "dets.txt").write_text("1 124 0.9 0 0 10 10\n")
    res = CliRunner().invoke(cli, [*base, *new, "--hard-negatives", str(tmp_path / "dets.txt")])
    assert res.exit_code == 1 and "not JSON: hard negatives are read from" in res.output, res.output
    (tmp_path / "ids.json").write_text(json.dumps([{"image_id": 0, "category_id": 1, "bbox": [0, 0, 5, 5],
                                                    "score": 0.5}]))
    res = CliRunner().invoke(cli, [*base, *new, "--hard-negatives", str(tmp_path / "ids.json")])
    assert res.exit_code == 1 and "hard negatives need each image's file_name" in res.output, res.output
    res = CliRunner().invoke(cli, [*base, "--out", str(dets), "--hard-negatives", str(dets)])
    assert res.exit_code == 1 and f"would replace {dets} (--hard-negatives)" in res.output, res.output
    # trial 8: a detection image named like images of two training sets (other files) went to both
    other_set = tmp_path / "other_set"
    other_set.mkdir()
    Image.fromarray(np.full((64, 80, 3), 128, np.uint8)).save(other_set / images[0].path.name)
    gt2 = write_images_gt(other_set / "gt.json", images[:1])
    res = CliRunner().invoke(cli, [*base, *new, "--gt", str(gt2), "--hard-negatives", str(dets)])
    assert res.exit_code == 1 and f"its image 'some/where/{images[0].path.name}' fits" in res.output, res.output
    # trial: `train ensemble` replaced an input lying in its --out folder under a name a member writes
    folder = tmp_path / "ens"
    folder.mkdir()
    inside = folder / "member1.pt"
    inside.write_bytes(dets.read_bytes())
    ens = ["train", "ensemble", "--members", "2", *base[2:-2], "--out", str(folder)]
    for extra, name in ((["--hard-negatives", str(inside)], "member1.pt"),
                        (["--gt", str(folder / "member0.log.jsonl")], "member0.log.jsonl"),
                        (["--hard-negatives", str(folder / "ensemble.json")], "ensemble.json")):
        if not (folder / name).exists():
            (folder / name).write_bytes(gt.read_bytes() if name.endswith("jsonl") else dets.read_bytes())
        res = CliRunner().invoke(cli, [*ens, *extra, "--epochs", "1"])
        assert res.exit_code == 1 and f"would replace {folder / name}" in res.output, res.output
    (folder / "ensemble.json").unlink()
    listing = tmp_path / "ens2"
    listing.mkdir()
    (listing / "ensemble.json").write_text('{"images": []}')  # not an ensemble listing: not replaced
    res = CliRunner().invoke(cli, [*ens[:-1], str(listing), "--epochs", "1"])
    assert res.exit_code == 1 and "ensemble.json exists and is not an ensemble listing" in res.output, res.output
    res = CliRunner().invoke(cli, [*ens, "--epochs", "1"])  # member1.pt is not a model file
    assert res.exit_code == 1 and f"{inside} (a member file of --out {folder}) exists and is not a model file" \
        in res.output, res.output
    assert inside.read_bytes() == dets.read_bytes()
    # trial: an --init of another width was refused only after the proposals of every image were computed
    wide = list(base)
    wide[wide.index("--width") + 1] = "0.5"
    wide[wide.index("--cache-dir") + 1] = str(tmp_path / "fresh_cache")
    res = CliRunner().invoke(cli, [*wide[:-2], "--out", str(tmp_path / "w.pt"), "--init", str(out)])
    assert res.exit_code == 1 and "its paper-bn network of width 0.25 cannot initialise a paper-bn network of " \
        "width 0.5 (give --arch paper-bn --width 0.25, and likely --input-size 96" in res.output, res.output
    assert not [f for f in (tmp_path / "fresh_cache").rglob("*") if f.is_file()]  # before any proposal


def test_fg_iou_moves_the_foreground_line_but_not_the_ignored_objects_one(tmp_path):
    """--fg-iou (Cascade R-CNN's later stages: 0.6, 0.7): a region overlapping an object by IoU in [0.5, fg_iou) is
    background, not foreground; one overlapping an object of a class not learned by 0.5 is still never drawn."""
    b = np.array([[10, 10, 40, 40]], np.float32)
    mid = np.array([[10, 10, 40, 52]], np.float32)  # IoU 30·30 / 30·42 = 0.71
    loose = np.array([[10, 10, 40, 60]], np.float32)  # IoU 0.6 exactly: 900 / 1500
    near = np.array([[4, 4, 40, 42]], np.float32)  # IoU 900 / 1368 = 0.66
    ignored = np.array([[50, 10, 79, 40]], np.float32)
    on_ignored = np.array([[50, 10, 79, 52]], np.float32)  # IoU 0.69 with the ignored object
    props = np.concatenate([mid, loose, near, on_ignored])
    im = TrainImage(None, 80, 64, b, np.array([1]), ignored, props)
    iou = box_iou(props, b)[:, 0]
    np.testing.assert_allclose(iou[:3], [900 / 1260, 0.6, 900 / 1368], rtol=1e-5)
    for fg_iou, fg_expected in ((0.5, 4), (0.65, 3), (0.7, 2)):
        seen_fg, seen_bg = set(), set()
        for seed in range(30):
            boxes, labels, _ = sample_regions(im, 16, config(fg_iou=fg_iou, bg_iou_low=0.0),
                                              np.random.default_rng(seed))
            for box, label in zip(boxes, labels):
                (seen_fg if label else seen_bg).add(tuple(box.tolist()))
        assert len(seen_fg) == fg_expected  # the ground-truth box itself is foreground too
        assert tuple(on_ignored[0].tolist()) not in seen_bg | seen_fg
        for box in seen_bg:
            assert box_iou(np.array([box], np.float32), b)[0, 0] < fg_iou


def test_fg_iou_option_is_recorded_and_bounded(tmp_path):
    images = synthetic_images(tmp_path, n=2)
    gt = write_images_gt(tmp_path / "gt.json", images)
    base = ["train", "classifier", "--gt", str(gt), "--input-size", "96", "--width", "0.25", "--batch-size", "16",
            "--workers", "0", "--cache-dir", str(tmp_path / "cache"), "--val-every", "0", "--epochs", "1"]
    res = CliRunner().invoke(cli, [*base, "--fg-iou", "0.6", "--out", str(tmp_path / "m.pt")])
    assert res.exit_code == 0, res.output
    assert load_member(tmp_path / "m.pt").train["config"]["fg_iou"] == 0.6
    # trial 18: a resume with another --fg-iou went on silently and recorded only the new value; refused now, naming
    # each difference (as --lr and --seed), while --epochs may be raised
    sp = state_path(tmp_path / "m.pt")
    torch.save({**torch.load(sp, weights_only=True), "epochs": 2}, sp)
    more = [*base[:-2], "--epochs", "2", "--out", str(tmp_path / "m.pt"), "--resume"]
    res = CliRunner().invoke(cli, [*more, "--fg-iou", "0.7", "--lr", "0.02"])
    assert res.exit_code == 1 and "it was started with other training settings (--fg-iou 0.7 now, 0.6 in that run; " \
        "--lr 0.02 now, 0.01 in that run; only --epochs" in res.output, res.output
    res = CliRunner().invoke(cli, [*more, "--fg-iou", "0.6"])
    assert res.exit_code == 0, res.output
    assert load_member(tmp_path / "m.pt").train["epoch"] == 2
    # trial 19: another --ss-scale (other training proposals) was taken silently and recorded alone; a --batch-size
    # under 16 was named "regions per image"
    res = CliRunner().invoke(cli, [*more, "--fg-iou", "0.6", "--ss-scale", "1", "--batch-size", "8"])
    assert res.exit_code == 1 and "(--batch-size 8 now, 16 in that run; --ss-scale 1.0 now, 2.0 in that run; " \
        "only --epochs" in res.output, res.output
    for bad in ("0.4", "1", "nan"):
        res = CliRunner().invoke(cli, [*base, "--fg-iou", bad, "--out", str(tmp_path / "b.pt")])
        assert res.exit_code == 2 and "--fg-iou" in res.output and not (tmp_path / "b.pt").exists()
    # trial 18: --bg-iou-low was capped below 0.5 even with --fg-iou 0.7; its bound is --fg-iou
    res = CliRunner().invoke(cli, [*base, "--fg-iou", "0.7", "--bg-iou-low", "0.7", "--out", str(tmp_path / "b.pt")])
    assert res.exit_code == 2 and "0.7 is not below --fg-iou 0.7: background regions overlap objects by IoU in " \
        "[--bg-iou-low, --fg-iou)" in res.output and not (tmp_path / "b.pt").exists(), res.output
    res = CliRunner().invoke(cli, [*base, "--fg-iou", "0.7", "--bg-iou-low", "0.55", "--epochs", "1", "--out",
                                   str(tmp_path / "c.pt")])
    assert res.exit_code == 0 and load_member(tmp_path / "c.pt").train["config"]["bg_iou_low"] == 0.55, res.output
    # trial 19: --batch-size 20 trained as 16 without a word (regions are drawn 16 per image)
    res = CliRunner().invoke(cli, [*base, "--batch-size", "20", "--out", str(tmp_path / "b.pt")])
    assert res.exit_code == 2 and "give a multiple of 16, or at most 16 (--batch-size 20 would train 16 per " \
        "mini-batch)" in res.output and not (tmp_path / "b.pt").exists(), res.output


def test_a_refused_ensemble_resume_names_the_seed_given_and_checks_every_member_first(tmp_path):
    """Trial 19: an ensemble resumed with another --seed was refused for member 0 with the hint to delete its state
    file alone; doing so retrained member 0 with the new seed — member 1's — and then member 1 was refused as
    "--seed 2 now, 1 in that run" (its member seed, not the --seed given). Now every member is checked before any
    trains, --seed is named as given, and the hint is to start the whole ensemble over."""
    images = synthetic_images(tmp_path, n=2)
    gt = write_images_gt(tmp_path / "gt.json", images)
    out = tmp_path / "ens"
    base = ["train", "ensemble", "--members", "2", "--gt", str(gt), "--input-size", "96", "--width", "0.25",
            "--batch-size", "16", "--workers", "0", "--cache-dir", str(tmp_path / "cache"), "--val-every", "0",
            "--epochs", "1", "--out", str(out)]
    res = CliRunner().invoke(cli, base)
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, [*base, "--resume", "--seed", "1"])
    assert res.exit_code == 1 and "member0.pt: it was started with other training settings (--seed 1 now, 0 in that " \
        "run; " in res.output and "member*.state.ckpt) to start the ensemble over" in res.output, res.output
    state_path(out / "member0.pt").unlink()  # the hint of before
    before = (out / "member0.pt").read_bytes()
    res = CliRunner().invoke(cli, [*base, "--resume", "--seed", "1"])
    assert res.exit_code == 1 and "member1.pt: it was started with other training settings (--seed 1 now, 0 in that " \
        "run; " in res.output, res.output
    assert (out / "member0.pt").read_bytes() == before and not state_path(out / "member0.pt").exists()


def test_an_image_of_another_size_than_its_annotation_is_left_out_of_training(tmp_path):
    """Trial 32: training took boxes in other pixels without a word — a photo annotated as stored (its EXIF
    orientation swaps the sides as it is read) and a copy resized after annotating — and cut its regions from the
    wrong places; `detect eval` refused the same images. Now each is left out with a warning naming it and both
    sizes (detectron2 raises its SizeMismatchError); the others train."""
    from detector.train import dataset_proposals
    from proposals.selective_search import SelectiveSearchConfig

    images = synthetic_images(tmp_path, n=4)
    Image.open(images[1].path).resize((40, 32)).save(images[1].path)  # resized after annotating
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed turned: 64 wide, 80 high
    Image.open(images[2].path).save(images[2].path, exif=exif.tobytes())
    gt = write_images_gt(tmp_path / "gt.json", images)
    boxes, errors = dataset_proposals([read_dataset(gt)], SelectiveSearchConfig(), workers=0)
    assert [b is None for b in boxes] == [False, True, True, False]
    assert errors[0].startswith(f"{images[1].path} 40x32 (ground truth: im1.png 80x64) in {gt}: its boxes are in "
                                "other pixels than the image's"), errors
    assert errors[1].startswith(f"{images[2].path} 64x80 (ground truth: im2.png 80x64)") and \
        "width and height are swapped" in errors[1] and "EXIF orientation" in errors[1], errors
    out = tmp_path / "m.pt"
    res = CliRunner().invoke(cli, ["train", "classifier", "--gt", str(gt), "--out", str(out), "--input-size", "96",
                                   "--width", "0.25", "--epochs", "1", "--batch-size", "16", "--workers", "0",
                                   "--cache-dir", str(tmp_path / "cache"), "--val-every", "0"])
    assert res.exit_code == 0 and out.is_file(), res.output
    assert res.output.count("its boxes are in other pixels than the image's") == 2 and "(image left out)" in res.output
    from proposals.multibox_train import prepare_samples  # MultiBox's training too

    samples, skipped = prepare_samples(read_dataset(gt).images, 96)
    assert len(samples) == 2 and [s.split(" ")[0] for s in skipped] == [str(images[1].path), str(images[2].path)]


def test_resuming_a_stopped_run_with_fewer_epochs_than_it_did_is_refused(tmp_path, monkeypatch):
    """Trial 32: a run stopped after 2 of its 3 epochs, resumed with --epochs 1, was called "finished its 2 epochs
    already" (and an ensemble's next member then trained 1 epoch); it is refused, saying how to go on."""
    import os
    import signal

    from detector import train as train_module

    images = synthetic_images(tmp_path, n=3)
    write_images_gt(tmp_path / "gt.json", images)
    out = tmp_path / "m.pt"
    real_save, saves = train_module.save_member, []

    def save_then_stop_at_the_second(path, *a, **k):
        written = real_save(path, *a, **k)
        saves.append(path)
        if saves.count(path) == 2 and path == out:  # Ctrl-C as the second epoch's files are written
            os.kill(os.getpid(), signal.SIGINT)
        return written

    monkeypatch.setattr(train_module, "save_member", save_then_stop_at_the_second)
    args = ["train", "classifier", "--gt", str(tmp_path / "gt.json"), "--out", str(out), "--input-size", "96",
            "--width", "0.25", "--batch-size", "16", "--workers", "0", "--cache-dir", str(tmp_path / "cache"),
            "--val-every", "0"]
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        res = CliRunner().invoke(cli, [*args, "--epochs", "3"])
    finally:
        signal.signal(signal.SIGINT, previous)
    assert res.exit_code == 130 and torch.load(state_path(out), weights_only=True)["epoch"] == 2, res.output
    monkeypatch.setattr(train_module, "save_member", real_save)
    res = CliRunner().invoke(cli, [*args, "--epochs", "1", "--resume"])
    assert res.exit_code == 1 and "finished" not in res.output, res.output
    assert f"cannot resume {out} with --epochs 1: it stopped after 2 of its 3 epochs" in res.output, res.output
    res = CliRunner().invoke(cli, [*args, "--epochs", "2", "--resume"])  # as many as done (trial 34: "finished")
    assert res.exit_code == 1 and "give --epochs 3 to go on (or at least 3)" in res.output, res.output
    res = CliRunner().invoke(cli, [*args, "--epochs", "3", "--resume"])
    assert res.exit_code == 0 and "epoch   3" in res.output, res.output
    res = CliRunner().invoke(cli, [*args, "--epochs", "2", "--resume"])  # finished 3: an ensemble's next member
    assert res.exit_code == 1 and f"cannot resume {out} with --epochs 2: it finished 3 epochs, more than that" \
        in res.output, res.output  # would train 2 (trial 34)


def test_a_box_beyond_the_image_trains_as_its_part_inside(tmp_path):
    # trial 32: a box with xmax 5000 in a 198-wide image was trained on as it stood (the reader's warning aside)
    from detector.train import prepare_images

    Image.new("RGB", (80, 64)).save(tmp_path / "a.png")
    gt = write_coco(tmp_path / "gt.json", [{"id": 1, "file_name": "a.png", "width": 80, "height": 64}],
                    [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [60, -10, 4940, 40]},  # extends beyond
                     {"id": 2, "image_id": 1, "category_id": 1, "bbox": [90, 10, 20, 20]},  # wholly outside
                     {"id": 3, "image_id": 1, "category_id": 1, "bbox": [5, 5, 20, 20]}],
                    [{"id": 1, "name": "person"}])
    ds = read_dataset(gt, strict=False)
    (im,) = prepare_images([ds], build_class_list([ds]), [np.zeros((1, 4), np.float32)])
    np.testing.assert_array_equal(im.gt_boxes, [[60, 0, 80, 30], [5, 5, 25, 25]])


def test_init_from_a_model_of_another_region_size_is_noted(tmp_path):
    # trial 32: --init of a 112 px model without --input-size trained at the default 224 without a word
    images = synthetic_images(tmp_path, n=2)
    write_images_gt(tmp_path / "gt.json", images)
    args = ["train", "classifier", "--gt", str(tmp_path / "gt.json"), "--width", "0.25", "--epochs", "1",
            "--batch-size", "16", "--workers", "0", "--cache-dir", str(tmp_path / "cache"), "--val-every", "0"]
    res = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "a.pt"), "--input-size", "96"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "b.pt"), "--input-size", "112", "--init",
                                   str(tmp_path / "a.pt")])
    assert res.exit_code == 0, res.output
    assert f"note: --init {tmp_path / 'a.pt'} was trained on 96 px regions; this run trains on 112" in res.output


def test_a_model_written_under_a_text_name_is_noted(tmp_path, capsys):
    # trial 32: --out x.json wrote a model under a .json name without a word
    from cli.common import check_training_out

    check_training_out(tmp_path / "x.json", {}, False)
    assert "note: --out" in capsys.readouterr().err
    check_training_out(tmp_path / "x.pt", {}, False)
    assert capsys.readouterr().err == ""


def test_an_image_given_as_hard_negatives_is_named_as_such(tmp_path):
    # trial 34: --hard-negatives p.png printed "'utf-8' codec can't decode byte 0x00 …"
    import click

    from cli.train_cmd import _hard_negatives

    Image.new("RGB", (4, 4)).save(tmp_path / "p.png")
    with pytest.raises(click.ClickException, match=r"--hard-negatives .*p\.png: a PNG image, not detections"):
        _hard_negatives([tmp_path / "p.png"], [])


def test_a_member_resumed_by_train_classifier_names_its_own_seed(tmp_path):
    """Trial 35: `train classifier --out DIR/member1.pt --resume` (the default --seed 0) was refused as "--seed -1
    now, 0 in that run", and --seed 0, the "same" it asked for, was refused in the same words: the member's seed (1)
    was shifted by its index as if --seed were the ensemble's. Now the seeds are named as train classifier takes
    them, and the member's own seed resumes it."""
    images = synthetic_images(tmp_path, n=2)
    gt = write_images_gt(tmp_path / "gt.json", images)
    out = tmp_path / "ens"
    common = ["--gt", str(gt), "--input-size", "96", "--width", "0.25", "--batch-size", "16", "--workers", "0",
              "--cache-dir", str(tmp_path / "cache"), "--val-every", "0"]
    res = CliRunner().invoke(cli, ["train", "ensemble", "--members", "2", *common, "--epochs", "1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    member = ["train", "classifier", *common, "--epochs", "2", "--resume", "--out", str(out / "member1.pt")]
    for given in ([], ["--seed", "0"]):
        res = CliRunner().invoke(cli, [*member, *given])
        assert res.exit_code == 1 and "member1.pt: it was started with other training settings (--seed 0 now, 1 in " \
            "that run; " in res.output, res.output
    res = CliRunner().invoke(cli, [*member, "--seed", "1"])
    assert res.exit_code == 0 and load_member(out / "member1.pt").train["config"]["seed"] == 1, res.output


def test_a_full_disk_while_an_epoch_is_saved_leaves_files_that_tell_the_truth(tmp_path, monkeypatch):
    """Trial 34: a full disk while the first epoch's state file was written left its model files without a state:
    `detect run` took the model for a whole run, --resume started over. Now the state is written last; in the first
    epoch the model files go with it, later the earlier epoch's state says the run stopped."""
    import errno

    from detector.nn import loop

    images = synthetic_images(tmp_path, n=3)
    real, fail_at = loop.atomic_write, {"epoch": 1}

    def full_disk(path, write):
        if str(path).endswith(".state.ckpt") and len(saved) + 1 == fail_at["epoch"]:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        if str(path).endswith(".state.ckpt"):
            saved.append(path)
        return real(path, write)

    saved: list = []
    out = tmp_path / "m.pt"
    train_classifier(images, [PERSON, DOG], SPEC, config(epochs=1), out)  # an earlier run's files, then a fresh run
    monkeypatch.setattr(loop, "atomic_write", full_disk)
    with pytest.raises(OSError, match="No space left"):
        train_classifier(images, [PERSON, DOG], SPEC, config(epochs=2), out)
    assert not out.exists() and not last_path(out).exists() and not state_path(out).exists()
    saved.clear()
    fail_at["epoch"] = 2
    with pytest.raises(OSError, match="No space left"):
        train_classifier(images, [PERSON, DOG], SPEC, config(epochs=2), out)
    assert loop.stopped_run(out) == (1, 2) and out.exists()  # `detect run` warns; --resume goes on from epoch 1
    monkeypatch.setattr(loop, "atomic_write", real)
    st = train_classifier(images, [PERSON, DOG], SPEC, config(epochs=2), out, resume=True)
    assert [r["epoch"] for r in st.history] == [1, 2] and loop.stopped_run(out) is None

