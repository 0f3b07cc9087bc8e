"""Derive ``detector/data/imagenet1k_det.tsv`` (package data) from the ILSVRC 2014 devkit's ``meta_clsloc.mat``.

    python scripts/make_imagenet_map.py --meta ../shared/data/ilsvrc2014_det/meta_clsloc.mat

One row per ImageNet-1k (ILSVRC 2012-2014 CLS-LOC) class, in the order PyTorch ImageNet classifiers use (sorted
WordNet id, which is NOT the devkit's ``ILSVRC2014_ID`` order): its index there, WordNet id, devkit id, the det_id of
the ILSVRC DET class whose subtree holds it in the devkit's CLS-LOC hierarchy (0 when none: 517 of the 1,000 leaves),
and its first name. Every DET class is a node of that hierarchy (``children`` links; a node may have several parents),
so a DET class's probability is the sum of its leaves' (DESIGN.md, "ImageNet knowledge without ImageNet").
"""

from __future__ import annotations

import argparse
from pathlib import Path

import scipy.io

from detector.data.vocab import ilsvrc_categories

OUT = Path(__file__).resolve().parents[1] / "detector" / "data" / "imagenet1k_det.tsv"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--meta", type=Path, required=True, help="the devkit's meta_clsloc.mat")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    synsets = scipy.io.loadmat(args.meta)["synsets"][0]
    nodes = {int(s["ILSVRC2014_ID"][0, 0]): s for s in synsets}
    wnid = {i: str(s["WNID"][0]) for i, s in nodes.items()}
    children = {i: [int(c) for c in s["children"].ravel()] for i, s in nodes.items()}
    by_wnid = {w: i for i, w in wnid.items()}
    leaves = [i for i in nodes if not children[i]]
    if len(leaves) != 1000:
        raise SystemExit(f"{args.meta}: expected 1000 leaves, found {len(leaves)}")

    def under(i: int) -> set[int]:
        return {i} if not children[i] else set().union(*(under(c) for c in children[i]))

    det_of: dict[int, int] = {}
    for cat in ilsvrc_categories():
        if cat.wnid not in by_wnid:
            raise SystemExit(f"DET class {cat.name} ({cat.wnid}) is not a node of {args.meta}")
        for leaf in under(by_wnid[cat.wnid]):
            if leaf in det_of:
                raise SystemExit(f"leaf {wnid[leaf]} lies under two DET classes")
            det_of[leaf] = cat.det_id
    rows = sorted(leaves, key=lambda i: wnid[i])
    lines = ["# ImageNet-1k classes in sorted-WordNet-id order (PyTorch's) -> ILSVRC 2014 DET class (0 = none).",
             "# Derived from the ILSVRC 2014 devkit's meta_clsloc.mat by scripts/make_imagenet_map.py.",
             "index\twnid\tilsvrc2014_id\tdet_id\tname"]
    for k, i in enumerate(rows):
        name = str(nodes[i]["words"][0]).split(",")[0].strip()
        lines.append(f"{k}\t{wnid[i]}\t{i}\t{det_of.get(i, 0)}\t{name}")
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: 1000 classes, {len(det_of)} under a DET class, "
          f"{len(set(det_of.values()))} DET classes reached")


if __name__ == "__main__":
    main()
