"""Batch jobs (issue 7): crash-safe streaming output and --resume, --shard I/N with `detect merge`, the Ray
engine."""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from cli.main import cli
from detector.data.boxes_json import MergeError, PartWriter, Shard, assemble, merge_outputs, part_path, read_part
from detector.data.io import JobLock, LockedError, lock_path

from detector.classifier import ClassifierSpec, build_classifier, save_member
from detector.data.vocab import ilsvrc_categories

ROOT = Path(__file__).resolve().parents[1]


def make_images(folder: Path, n: int, size=(120, 160)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    h, w = size
    for i in range(n):
        arr = rng.integers(0, 80, (h, w, 3), dtype=np.uint8)
        y, x = rng.integers(0, h // 2), rng.integers(0, w // 2)
        arr[y : y + h // 3, x : x + w // 3] = rng.integers(120, 255, 3)
        Image.fromarray(arr).save(folder / f"img{i:03d}.png")
    (folder / "img005_broken.jpg").write_bytes(b"not an image at all")
    return folder


def graded_model(path):
    """A tiny random member whose scores spread out (no ties at 1.0, so detection order is well defined)."""
    torch.manual_seed(0)
    spec = ClassifierSpec(arch="paper-bn", num_classes=3, input_size=96, width=0.25)
    model = build_classifier(spec)
    with torch.no_grad():
        model.backbone.fc.weight.mul_(0.05)
        model.backbone.fc.bias[1] = 1.0
    return save_member(path, model.eval(), spec, [ilsvrc_categories()[123], ilsvrc_categories()[57]])


def run_args(images, out, model, *extra):
    return ["run", str(images), "--out", str(out), "--model", str(model), "--workers", "0", "--no-cache",
            "--max-proposals", "60", "--threads", "1", *extra]


def invoke(args):
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    return res


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("jobs")
    images = make_images(d / "imgs", 10)
    model = graded_model(d / "m.pt")
    full = d / "full.json"
    invoke(run_args(images, full, model))
    return d, images, model, json.loads(full.read_text())


def test_shard_bounds_cover_once():
    for total in (0, 1, 2, 7, 10, 101):
        for count in (1, 2, 3, 8):
            covered = []
            for i in range(count):
                a, b = Shard(i, count).bounds(total)
                covered.extend(range(a, b))
            assert covered == list(range(total))
    assert Shard.parse("2/3") == Shard(2, 3)
    for bad in ("3/3", "x", "1/0", "-1/2"):
        with pytest.raises(ValueError):
            Shard.parse(bad)
    for text, said in (("2/2", "the 2 shards are 0/2 and 1/2"), ("1/1", "the only one is 0/1"),
                       ("5/4", "the 4 shards are 0/4 … 3/4")):  # trial 17: it did not say that shards count from 0
        with pytest.raises(ValueError, match=rf"shards count from 0: {said}\), got {text}"):
            Shard.parse(text)
    with pytest.raises(ValueError) as e:
        Shard.parse("-1/2")
    assert "count from 0" not in str(e.value)  # not what is wrong there (trial 18)


def test_part_file_torn_tail_and_append(tmp_path):
    p = tmp_path / "o.json.part.jsonl"
    header = {"job": {"inputs": 3}, "model": {}, "categories": []}
    with PartWriter(p, header) as w:
        w.write({"index": 1, "image": {"id": 2}, "detections": [{"image_id": 2}]})
        w.write({"index": 0, "error": {"file_name": "a", "error": "bad"}})
    with open(p, "a") as f:
        f.write('{"index": 2, "ima')  # killed mid-line
    h, recs = read_part(p)
    assert h == header and sorted(recs) == [0, 1]
    with PartWriter(p, header) as w:  # appending cuts the torn line first
        w.write({"index": 2, "image": {"id": 3}, "detections": []})
    h, recs = read_part(p)
    assert sorted(recs) == [0, 1, 2]
    doc = assemble(h, recs)
    assert [im["id"] for im in doc["images"]] == [2, 3] and doc["errors"] == [{"file_name": "a", "error": "bad"}]


def _processes() -> dict[int, tuple[int, str, str]]:
    """pid → (parent pid, state, start time) of every process, from /proc (Linux)."""
    procs = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": state ppid ... starttime (22nd)
            procs[int(entry)] = (int(fields[1]), fields[0], fields[19])
    return procs


def descendants(pid: int) -> set[tuple[int, str]]:
    """(pid, start time) of every live process below ``pid``: children, their children, ..."""
    procs = _processes()
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        for child, (ppid, state, start) in procs.items():
            if ppid == parent and state != "Z":
                found.add((child, start))
                todo.append(child)
    return found


def survivors(processes: set[tuple[int, str]], within: float = 15.0) -> set[int]:
    """Those of ``processes`` still alive (same pid and start time, not a zombie) after waiting up to ``within``
    seconds for them to end."""
    deadline = time.monotonic() + within
    while True:
        procs = _processes()
        alive = {pid for pid, start in processes if pid in procs and procs[pid][2] == start and procs[pid][1] != "Z"}
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def start_run(args, stderr_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    with open(stderr_path, "w") as err:  # a file, not a pipe: a leaked child holding it must not hang the test
        return subprocess.Popen([sys.executable, "-m", "cli.main", *args], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=err)


def wait_for_lines(part: Path, n: int, proc) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        if part.exists() and part.read_bytes().count(b"\n") >= n:
            return
        time.sleep(0.01)


def test_kill_midway_then_resume_equals_uninterrupted(setup, tmp_path):
    d, _, model, full = setup
    images = make_images(tmp_path / "many", 16, size=(90, 120))
    ref = tmp_path / "ref.json"
    invoke(run_args(images, ref, model))
    out = tmp_path / "killed.json"
    part = part_path(out)
    # one selective-search worker process: it, the forkserver and the resource tracker must end with the run
    proc = start_run([*run_args(images, out, model), "--workers", "1"], tmp_path / "stderr.txt")
    try:
        wait_for_lines(part, 5, proc)  # header + at least 4 images
        children = descendants(proc.pid)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists(), "the run finished before it could be killed"
    # issue 12, kind 7: nothing the run started outlives it (before: worker, forkserver and resource tracker did)
    assert len(children) >= 3, children
    assert survivors(children) == set()
    assert lock_path(out).exists()  # the killed run's lock file stays, but no one holds its lock any more
    _, done = read_part(part)
    assert 4 <= len(done) < 17
    res = CliRunner().invoke(cli, run_args(images, out, model))  # no --resume: refuses to clobber the part file
    assert res.exit_code == 1 and "--resume" in res.output and part.exists()
    res = CliRunner().invoke(cli, run_args(images, out, model, "--resume", "--score-threshold", "0.2"))
    assert res.exit_code == 1 and "settings differ" in res.output  # another job's part file is not mixed in
    res = invoke(run_args(images, out, model, "--resume"))
    assert f"{len(done)} of 17 images already done" in res.output
    assert json.loads(out.read_text()) == json.loads(ref.read_text())
    assert not part.exists() and not lock_path(out).exists()


def test_a_part_file_torn_in_its_header_is_a_fresh_start(setup, tmp_path):
    """A run killed (or a machine that lost power) while the part file's header was being written leaves a part
    file of one line without its newline: no image was done, as with an empty part file or a header alone, so
    the job starts afresh — with or without --resume. It was "holds the results of an interrupted run: add
    --resume", then with --resume "cannot resume: … empty part file (no header)": no way on but deleting it (trial
    55)."""
    d, images, model, full = setup
    torn = b'{"header": {"job": {"inputs": 11, "inputs_sha256": "ab'
    for extra in ([], ["--resume"]):
        out = tmp_path / f"o{len(extra)}.json"
        part_path(out).write_bytes(torn)
        invoke(run_args(images, out, model, *extra))
        assert json.loads(out.read_text()) == full and not part_path(out).exists()


def test_sigterm_and_a_second_run_on_the_same_output(setup, tmp_path):
    """Issue 12, kind 7: a second run on a live run's OUT is told so (with or without --resume) and leaves it
    alone; SIGTERM stops a run at once, keeps the part file, says how to go on, and leaves no process behind;
    --resume then completes, and a second --resume beside it is refused the same way."""
    _, _, model, _ = setup
    images = make_images(tmp_path / "many", 24, size=(90, 120))
    out = tmp_path / "o.json"
    part = part_path(out)
    args = [*run_args(images, out, model), "--workers", "1"]
    first = start_run(args, tmp_path / "first.txt")
    try:
        wait_for_lines(part, 4, first)
        children = descendants(first.pid)
        for extra in ([], ["--resume"]):
            res = CliRunner().invoke(cli, [*args, *extra])
            assert res.exit_code == 1, res.output
            assert f"another detect run (process {first.pid}) is writing {out} now" in res.output
            assert "interrupted" not in res.output
        assert first.poll() is None, "the first run should still be going"
        sent = time.monotonic()
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=60)
        took = time.monotonic() - sent
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    message = (tmp_path / "first.txt").read_text()
    assert first.returncode == 128 + signal.SIGTERM, message
    assert took < 20, f"SIGTERM took {took:.1f} s"
    assert "stopped (SIGTERM)" in message and "--resume" in message and str(part) in message
    assert not out.exists() and not lock_path(out).exists()
    _, done = read_part(part)
    assert 3 <= len(done) < 25
    assert len(children) >= 3 and survivors(children) == set()

    second = start_run([*args, "--resume"], tmp_path / "second.txt")
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and second.poll() is None:
            if lock_path(out).exists() and lock_path(out).read_text().strip() == str(second.pid):
                break
            time.sleep(0.01)
        res = CliRunner().invoke(cli, [*args, "--resume"])
        assert res.exit_code == 1 and f"another detect run (process {second.pid})" in res.output, res.output
        second.wait(timeout=300)
    finally:
        if second.poll() is None:
            second.kill()
            second.wait()
    assert second.returncode == 0, (tmp_path / "second.txt").read_text()
    doc = json.loads(out.read_text())
    names = [x["file_name"] for x in doc["images"] + doc["errors"]]
    assert len(names) == len(set(names)) == 25
    assert not part.exists() and not lock_path(out).exists()


def test_job_lock(tmp_path):
    out = tmp_path / "o.json"
    lock = JobLock(out).acquire()
    assert lock_path(out).read_text().strip() == str(os.getpid())
    with pytest.raises(LockedError) as e:
        JobLock(out).acquire()
    assert e.value.holder == os.getpid()
    lock.release()
    assert not lock_path(out).exists()
    lock_path(out).write_text("12345\n")  # left by a killed run: nobody holds a lock on it
    with JobLock(out):
        assert lock_path(out).read_text().strip() == str(os.getpid())
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
         "fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, b'%d\\n' % os.getpid()); print('locked', flush=True); "
         "time.sleep(120)", str(lock_path(out))], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(LockedError) as e:
            JobLock(out).acquire()
        assert e.value.holder == holder.pid
    finally:
        holder.kill()
        holder.wait()
    with JobLock(out):  # the kernel dropped the lock with its process
        pass


def test_shards_cover_once_and_merge_to_single_run(setup, tmp_path):
    d, images, model, full = setup
    parts = []
    for i in range(3):
        p = tmp_path / f"shard{i}.json"
        invoke(run_args(images, p, model, "--shard", f"{i}/3"))
        parts.append(p)
    docs = [json.loads(p.read_text()) for p in parts]
    names = [x["file_name"] for doc in docs for x in doc["images"] + doc["errors"]]
    assert sorted(names) == sorted(x["file_name"] for x in full["images"] + full["errors"])
    assert len(names) == len(set(names)) == 11
    assert [doc["job"]["shard"] for doc in docs] == [{"index": i, "count": 3} for i in range(3)]
    merged = tmp_path / "merged.json"
    invoke(["merge", *map(str, reversed(parts)), "--out", str(merged)])
    assert json.loads(merged.read_text()) == full

    def refused(args, message):
        res = CliRunner().invoke(cli, ["merge", *map(str, args), "--out", str(tmp_path / "x.json")])
        assert res.exit_code == 1 and message in res.output, res.output
        assert not (tmp_path / "x.json").exists()

    refused(parts[:2], "2/3 missing")
    refused([parts[0], parts[0], parts[1]], f"{parts[0]} is given twice")  # trial 22: "a and a are both shard 0/3"
    copy = tmp_path / "copy.json"
    copy.write_bytes(parts[0].read_bytes())
    refused([parts[0], copy, parts[1]], "both shard 0/3")
    refused([parts[0], d / "full.json"], "not a shard output")
    other = tmp_path / "other.json"
    invoke(run_args(images, other, model, "--shard", "1/3", "--soft-nms-sigma", "0.3"))
    refused([parts[0], other, parts[2]],
            f"different jobs: their model or settings differ: --soft-nms-sigma 0.3 in {other}, 0.5 in {parts[0]}")
    # --format ilsvrc's image list beside --out: a pipe there is refused before the merge, naming it (not --out)
    os.mkfifo(tmp_path / "x.images.txt")
    refused([*parts, "--format", "ilsvrc"], f"{tmp_path / 'x.images.txt'} is a named pipe (FIFO), where --format "
                                            "ilsvrc writes the image list of --out")
    assert (tmp_path / "x.images.txt").is_fifo()
    (tmp_path / "x.images.txt").unlink()
    # the output must not replace one of the parts (it did, and the parts could not be merged again: user trial)
    res = CliRunner().invoke(cli, ["merge", *map(str, parts), "--out", str(parts[1])])
    assert res.exit_code == 1 and "is one of the parts being merged" in res.output, res.output
    assert json.loads(parts[1].read_text()) == docs[1]
    two = tmp_path / "two.json"
    invoke(run_args(images, two, model, "--shard", "1/2"))
    refused([parts[0], two], "different splits")
    # overlapping images: a shard doctored to claim another's image
    bad = json.loads(parts[1].read_text())
    bad["images"].append(docs[0]["images"][0])
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    refused([parts[0], tmp_path / "bad.json", parts[2]], "overlap")
    invoke(["merge", str(parts[0]), str(parts[2]), "--out", str(tmp_path / "p.json"), "--allow-partial"])
    assert json.loads((tmp_path / "p.json").read_text())["job"]["missing_shards"] == ["1/3"]
    # the part file of an unfinished shard is named as such by merge and eval (they said "not JSON: Extra data")
    unfinished = part_path(tmp_path / "s.json")
    with PartWriter(unfinished, {"job": {}}) as w:
        w.write({"index": 0, "file_name": "x.jpg", "error": "e"})
    note = f"{unfinished} is the part file of an unfinished `detect run`"
    refused([parts[0], unfinished], note)
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"images": [{"id": 1, "file_name": "x.jpg", "width": 10, "height": 10}],
                              "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]}],
                              "categories": [{"id": 1, "name": "person"}]}))
    res = CliRunner().invoke(cli, ["eval", "--gt", str(gt), "--pred", str(unfinished)])
    assert res.exit_code == 1 and note in res.output and "to write s.json" in res.output, res.output
    # a shard with no inputs (more shards than inputs) says so, not "inputs 1–0"
    res = invoke(run_args(images, tmp_path / "e.json", model, "--shard", "0/13"))
    assert "(shard 0/13: no inputs of 11)" in res.output
    res = invoke(run_args(images, tmp_path / "e.json", model, "--shard", "1/13"))
    assert "(shard 1/13: input 1 of 11)" in res.output


def test_merge_outputs_rejects_mismatched_categories(setup):
    _, _, _, full = setup
    a = {**full, "job": {**full["job"], "shard": {"index": 0, "count": 2}}}
    b = {**a, "job": {**a["job"], "shard": {"index": 1, "count": 2}}, "categories": [], "images": [],
         "errors": [], "detections": []}
    with pytest.raises(MergeError, match="different categories"):
        merge_outputs([("a", a), ("b", b)])


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray not installed (pip install '.[ray]')")
def test_ray_engine_equals_local(setup, tmp_path):
    d, images, model, full = setup
    out = tmp_path / "ray.json"
    res = invoke(run_args(images, out, model, "--engine", "ray", "--ray-actors", "2"))
    assert "engine ray" in res.output
    doc = json.loads(out.read_text())
    assert doc["model"].pop("device") in ("auto", "cpu")
    full = json.loads(json.dumps(full))
    full["model"].pop("device")
    assert doc == full


def test_merge_names_an_empty_file(tmp_path):
    """It said "not a readable boxes.json (Expecting value: line 1 column 1 (char 0))" for an empty file."""
    (tmp_path / "a.json").write_text("")
    res = CliRunner().invoke(cli, ["merge", str(tmp_path / "a.json"), "--out", str(tmp_path / "m.json")])
    assert res.exit_code == 1 and "a.json: the file is empty: not a boxes.json" in res.output, res.output
    Image.new("RGB", (8, 8)).save(tmp_path / "a.json", "PNG")  # and a binary file by its kind, not its bytes
    res = CliRunner().invoke(cli, ["merge", str(tmp_path / "a.json"), "--out", str(tmp_path / "m.json")])
    assert res.exit_code == 1 and "a.json: a PNG image, not a boxes.json" in res.output, res.output


def test_an_empty_shard_says_so_and_merges(tmp_path):
    """Trial 19: with more shards than inputs, an empty shard printed "0 images" and nothing more; it now says it
    holds no input, and the merge of all shards equals the unsharded run."""
    images = tmp_path / "imgs"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)).save(images / f"i{i}.png")
    model = graded_model(tmp_path / "m.pt")
    parts = []
    for i in range(4):
        parts.append(tmp_path / f"p{i}.json")
        res = invoke(run_args(images, parts[-1], model, "--shard", f"{i}/4"))
        empty = Shard(i, 4).bounds(2)[0] == Shard(i, 4).bounds(2)[1]
        assert ("note: shard %d/4 holds no input: 2 inputs split into 4 shards leave some empty" % i in res.output) \
            == empty, res.output
    full = tmp_path / "full.json"
    invoke(run_args(images, full, model))
    invoke(["merge", *map(str, parts), "--out", str(tmp_path / "merged.json")])
    merged, whole = (json.loads((tmp_path / n).read_text()) for n in ("merged.json", "full.json"))
    assert merged["images"] == whole["images"] and merged["detections"] == whole["detections"]


def test_a_full_disk_names_the_part_file(tmp_path):
    """Trial 32: a run stopped by a full disk said "stopped by an I/O error: [Errno 27] File too large" (a write
    names no file), and the part file's failing close then hid even that."""
    import errno

    from detector.data.boxes_json import PartWriter

    class Full:
        closed = False

        def write(self, *text):
            raise OSError(errno.ENOSPC, "No space left on device")

        flush = fileno = write

        def close(self):
            self.closed = True
            raise OSError(errno.ENOSPC, "No space left on device")

    writer = PartWriter(tmp_path / "o.json.part.jsonl", {"x": 1})
    writer._f.close()
    writer._f = Full()
    with pytest.raises(OSError) as e:
        writer.write({"index": 0})
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(tmp_path / "o.json.part.jsonl")
    with pytest.raises(OSError, match="No space left"):
        writer.close()
    assert writer._f.closed


def test_merging_shards_none_of_whose_inputs_could_be_used_exits_1(setup, tmp_path):
    """Trial 39: each shard exited 1 (no input could be used), their merge 0."""
    _, _, model, _ = setup
    bad = tmp_path / "bad"
    bad.mkdir()
    for k in range(3):
        (bad / f"{k}.jpg").write_bytes(b"not an image")
    parts = []
    for i in range(2):
        parts.append(tmp_path / f"bad{i}.json")
        res = CliRunner().invoke(cli, run_args(bad, parts[-1], model, "--shard", f"{i}/2"))
        assert res.exit_code == 1 and "no input could be used" in res.output, res.output
    res = CliRunner().invoke(cli, ["merge", *map(str, parts), "--out", str(tmp_path / "m.json")])
    assert res.exit_code == 1 and "no input could be used: 3 inputs failed, each listed under 'errors' in" \
        in res.output, res.output
    assert len(json.loads((tmp_path / "m.json").read_text())["errors"]) == 3
    res = CliRunner().invoke(cli, ["merge", *map(str, parts), "--out", str(tmp_path / "m.txt"), "--format", "ilsvrc"])
    assert res.exit_code == 1 and "each listed under 'errors' in the parts with its reason" in res.output, res.output
