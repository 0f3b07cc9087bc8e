"""Write the bundled model files from trained ones: float16 weights, the classifiers without their auxiliary heads
(training only), each file's training record kept.

    python scripts/bundle_models.py --crops work/default/member0.pt --multibox work/mb/multibox.pt

writes ``detector/models/default/member0.pt`` and ``proposals/models/multibox.pt`` and prints their sizes (the bundle
stays within 30 MB in git). ``--crops`` given several times writes an ensemble: ``member0.pt``, ``member1.pt``, … in
that order (any other ``member*.pt`` of the folder is removed).
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
                    help="a default (crops-mode) member; repeat for an ensemble")
    ap.add_argument("--multibox", type=Path, help="the MultiBox network")
    a = ap.parse_args()
    written = []
    if a.crops:
        folder = ROOT / "detector" / "models" / "default"
        members = [load_member(path) for path in a.crops]  # all read before any bundled file is removed
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
