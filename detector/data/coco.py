"""COCO interchange (the lingua franca for pycocotools): the export of the in-memory dataset form to a COCO
instances dict — the one converter, for files (``samples/make_samples.py``, ``scripts/default_split.py``) and for
the ``coco`` metric — and the ids a COCO ground-truth file gives a run's images and classes (:func:`coco_gt_ids`,
for ``detect run --format coco --coco-gt``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .boxes import box_area, xyxy_to_xywh
from .boxes_json import category_id
from .dataset import Dataset, wrong_sizes
from .names import AmbiguousImageName, ImageNameIndex, how_to_tell_apart
from .readers import read_coco

__all__ = ["CocoGtIds", "coco_gt_ids", "dataset_to_coco"]


def dataset_to_coco(ds: Dataset, *, decimals: int | None = 3, positional_ids: bool = False,
                    difficult_as_crowd: bool = False) -> dict:
    """``Dataset`` → COCO instances dict.

    Ids: by default the images' own ids, and category ids that are ILSVRC det_ids where the class has one, else
    1000 + the class's position (:func:`detector.data.boxes_json.category_id`: a model's outputs of the same classes
    carry the same ids); each category also carries its ``wnid`` (``null`` for unmapped classes).
    ``positional_ids``: image ids are positions + 1 and category ids class indices + 1 instead (unique whatever the
    source's ids are; the ``coco`` metric's choice). ``bbox`` and ``area`` (the box's, not the file's) are rounded
    to ``decimals`` (None: float64 as read, so a metric equals the reference tool's on the source file).
    ``difficult_as_crowd``: VOC ``difficult`` objects become crowd regions, pycocotools' only kind of ignored
    region; otherwise ``iscrowd`` is the source's and ``ignore`` marks ``difficult``."""
    if positional_ids:
        cat_ids = list(range(1, len(ds.classes) + 1))
    else:
        cat_ids = [category_id(c, k) for k, c in enumerate(ds.classes)]  # as boxes.json numbers them

    def number(v) -> float:
        return float(v) if decimals is None else round(float(v), decimals)

    categories = [{"id": cid, "name": c.name, "wnid": c.wnid} for cid, c in zip(cat_ids, ds.classes)]
    images, annotations = [], []
    for i, im in enumerate(ds.images):
        image_id = i + 1 if positional_ids else im.image_id
        images.append({"id": image_id, "file_name": im.file_name, "width": im.width, "height": im.height})
        xywh = xyxy_to_xywh(im.boxes)
        areas = box_area(im.boxes)
        for k in range(len(im)):
            crowd = bool(im.iscrowd[k] or (difficult_as_crowd and im.difficult[k]))
            annotations.append({
                "id": len(annotations) + 1,
                "image_id": image_id,
                "category_id": cat_ids[int(im.labels[k])],
                "bbox": [number(v) for v in xywh[k]],
                "area": number(areas[k]),
                "iscrowd": int(crowd),
                "ignore": int(im.difficult[k]),
            })
    return {"images": images, "annotations": annotations, "categories": categories}


@dataclass(frozen=True)
class CocoGtIds:
    """The ids a COCO ground-truth file has for the images and classes of a run: what COCO results need to be
    scored by pycocotools (``COCO.loadRes``, ``COCOeval``) against that file, which matches by id only."""

    source: str  # the ground-truth file
    image_ids: dict[str, int | str]  # an input's name (``file_name`` in boxes.json) -> its image's id in the file
    category_ids: dict[str, int | str]  # a class's Category.key (the wnid, else the name) -> the file's category id
    category_names: dict[str, str] = field(default_factory=dict)  # a class's Category.key -> its name in the file

    def lacking(self, classes) -> list:
        """Those of ``classes`` (:class:`~detector.data.vocab.Category`, keyed as ``detect eval`` matches them) that
        the file has no category of: COCO results numbered for it can carry none of their detections (trial 61:
        ``detect run --classes tv --coco-gt GT`` ran the whole job to write an empty list)."""
        return [c for c in classes if c.key not in self.category_ids]


def coco_gt_ids(path, names, sizes: dict[str, tuple[int, int]] | None = None) -> CocoGtIds:
    """The ids of the COCO ground truth ``path`` for the images ``names`` (as ``detect run`` names its inputs and
    ``boxes.json`` its images: paths relative to the input folder) and for its classes. ``sizes``: name → (width,
    height) of the images where known (``detect run``: read from their headers; ``detect merge``: as recorded); an
    image of another size than the ground truth's image it matches is refused (its boxes would be in other pixels:
    a resized copy or another image of that name — trial 29: a 559x536 PNG took the id of a 400x384 JPEG of its
    stem and pycocotools scored it without a word), as ``detect eval`` refuses it; ground truth of size 0 is not
    checked.

    Each name is matched to the file's ``images[].file_name`` as ``detect eval`` matches predictions
    (:mod:`detector.data.names`: trailing path components, the longest agreement wins, then the same extension);
    of two names that fit one image the better fit takes it. Classes are keyed as ``detect eval`` matches them
    (:attr:`Category.key`: the ILSVRC wnid where the file's category maps onto one, else its name). Raises
    :class:`DatasetError` naming the file when it cannot be read, and ``ValueError`` naming the file and the
    images when a name fits none of its images (or fits two equally well, or loses its image to a better fit)."""
    gt = read_coco(path)
    source = str(gt.source)
    index = ImageNameIndex([im.file_name for im in gt.images])
    claims: dict[int, list[tuple[tuple, str]]] = {}  # gt image -> [(score, name)]
    missing = []
    for name in names:
        try:
            found = index.match(name)
        except AmbiguousImageName as e:
            raise ValueError(f"{source}: input {e}; name the images by longer paths (run on the folder "
                             "above)") from None
        if found is None:
            missing.append(repr(name))
        else:
            claims.setdefault(found[0], []).append((found[1], name))
    image_ids = {}
    for g, cl in claims.items():
        cl.sort(key=lambda c: c[0], reverse=True)
        if len(cl) > 1 and cl[0][0] == cl[1][0]:
            raise ValueError(f"{source}: the input images {cl[0][1]!r} and {cl[1][1]!r} fit its image "
                             f"{gt.images[g].file_name!r} equally well: {how_to_tell_apart(cl[0][1], cl[1][1])}")
        image_ids[cl[0][1]] = gt.images[g].image_id
        missing += [f"{name!r} (its image {gt.images[g].file_name!r} is {cl[0][1]!r})" for _, name in cl[1:]]
    wrong, hint = wrong_sizes((cl[0][1], (sizes or {}).get(cl[0][1]), gt.images[g]) for g, cl in claims.items())
    if wrong:
        one = len(wrong) == 1
        raise ValueError(f"{source}: {len(wrong)} of the input images {'is' if one else 'are'} not the size of "
                         f"{'its image' if one else 'their images'} of the same name there, so the boxes would be in "
                         f"other pixels: {', '.join(wrong[:3])}{' …' if len(wrong) > 3 else ''}. Run on the "
                         "ground truth's own image files (a resized copy needs ground truth of its own)"
                         + hint)
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        which = "the one input image is" if len(names) == 1 else \
            f"{len(missing)} of the {len(names)} input images are" if len(missing) > 1 else \
            f"1 of the {len(names)} input images is"
        its = "its results" if len(missing) == 1 else "their results"
        raise ValueError(f"{source}: {which} not among its images, so {its} could have no image_id of it: {shown} "
                         f"(images are matched to its "
                         "images[].file_name by path, as detect eval matches them; run on the ground truth's images)")
    return CocoGtIds(source, image_ids, {c.key: c.source_id for c in gt.classes}, {c.key: c.name for c in gt.classes})
