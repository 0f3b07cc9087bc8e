"""Write the bundled model files from trained ones: float16 weights, the classifiers without their auxiliary heads
(training only), each file's training record kept.

    python scripts/bundle_models.py --crops work/default/member0.pt --fast work/fast224b/member0.pt \
        --fast work/fast224s1/member0.pt --fast work/fast224s2/member0.pt --multibox work/mb/multibox.pt

writes the bundled ensemble ``detector/models/default/member0.pt`` (crops mode), ``member1.pt`` … ``member3.pt``
(fast mode) and ``proposals/models/multibox.pt`` and prints their sizes (the bundle stays within 30 MB in git). ``--crops`` and
``--fast`` may be repeated; the members are numbered crops first, in the order given, and any other ``member*.pt``
of the folder is removed. ``--fast`` takes fast-mode members (``detect train classifier --mode fast``). ``--fast-preset`` writes the model
``detect run --preset fast`` uses when no ``--model`` is given, ``detector/models/fast/member0.pt``:

    python scripts/bundle_models.py --fast-preset work/hardneg/member0.pt
"""

from __future__ import annotations

import argparse
from pathlib import Path

from detector.classifier import load_member, save_member
from proposals.multibox import load_multibox, save_multibox

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--crops", type=Path, action="append", default=[],
                    help="a crops-mode member of the ensemble; repeat for more")
    ap.add_argument("--multibox", type=Path, help="the MultiBox network")
    ap.add_argument("--fast", type=Path, action="append", default=[],
                    help="a fast-mode member of the ensemble (after the crops ones); repeat for more")
    ap.add_argument("--fast-preset", type=Path,
                    help="the model of `detect run --preset fast` (a crops-mode classifier; detector/models/fast)")
    a = ap.parse_args()
    written = []
    if a.fast_preset:
        m = load_member(a.fast_preset)
        folder = ROOT / "detector" / "models" / "fast"
        folder.mkdir(exist_ok=True)
        written.append(save_member(folder / "member0.pt", m.model.float(), m.spec, m.classes, train=m.train,
                                   half=True, drop_aux=True))
    if a.crops or a.fast:
        folder = ROOT / "detector" / "models" / "default"
        members = [load_member(path) for path in [*a.crops, *a.fast]]  # all read before any bundled file is removed
        if any(m.spec.mode != "fast" for m in members[len(a.crops):]):
            ap.error("--fast takes fast-mode members (detect train classifier --mode fast)")
        for old in folder.glob("member*.pt"):
            old.unlink()
        for i, m in enumerate(members):
            written.append(save_member(folder / f"member{i}.pt", m.model.float(), m.spec, m.classes, train=m.train,
                                       half=True, drop_aux=True))
    if a.multibox:
        model, ckpt = load_multibox(a.multibox)
        written.append(save_multibox(ROOT / "proposals" / "models" / "multibox.pt", model.float(),
                                     train=ckpt.get("train"), half=True))
    total = 0
    for p in written:
        total += p.stat().st_size
        print(f"{p.relative_to(ROOT)}: {p.stat().st_size / 1e6:.1f} MB")
    print(f"total written: {total / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
