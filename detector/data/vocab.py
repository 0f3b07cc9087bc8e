"""The ILSVRC 2014 DET vocabulary (200 classes) and the mapping of VOC / COCO class names onto it.

A :class:`Category` is one class: its display ``name``, and where the class is (or maps onto) an ILSVRC DET class,
its WordNet id ``wnid`` and ``det_id`` (1..200). Label 0 is background in models; datasets index their own class
tuple from 0. Classes from two sources are the same class when their :attr:`Category.key` is equal: the wnid where
there is one (a VOC ``person`` and an ILSVRC ``n00007846`` are the same), else the name.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass, field
from importlib import resources

__all__ = [
    "Category",
    "ilsvrc_categories",
    "ilsvrc_by_wnid",
    "ilsvrc_by_det_id",
    "category_for_name",
    "VOC_CLASSES",
    "VOC_TO_WNID",
    "COCO_TO_WNID",
    "PENNFUDAN_TO_WNID",
    "is_wnid",
    "select_classes",
]

_WNID_RE = re.compile(r"^n\d{8}$")


@dataclass(frozen=True)
class Category:
    """One object class."""

    name: str
    wnid: str | None = None  # ILSVRC WordNet id, where the class maps onto the ILSVRC vocabulary
    det_id: int | None = None  # ILSVRC 2014 DET id 1..200 (the devkit's ``meta_det.mat`` order)
    source_id: int | None = field(default=None, compare=False)  # the class's id in the file it was read from (COCO)

    @property
    def key(self) -> str:
        """Identity used to match classes across datasets: the wnid where known, else the name."""
        return self.wnid if self.wnid else self.name

    def to_dict(self) -> dict:
        return {"id": self.det_id, "wnid": self.wnid, "name": self.name}


def is_wnid(text: str) -> bool:
    """True for a WordNet id such as ``n00007846``."""
    return bool(_WNID_RE.match(text))


@functools.lru_cache(maxsize=1)
def ilsvrc_categories() -> tuple[Category, ...]:
    """The 200 ILSVRC 2014 DET classes in det_id order (package data ``det_synsets_200.tsv``)."""
    text = resources.files("detector.data").joinpath("det_synsets_200.tsv").read_text(encoding="utf-8")
    cats = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if line_no == 1 or not line.strip():
            continue  # header: det_id, wnid, name
        det_id, wnid, name = line.split("\t")
        cats.append(Category(name=name, wnid=wnid, det_id=int(det_id)))
    return tuple(cats)


@functools.lru_cache(maxsize=1)
def ilsvrc_by_wnid() -> dict[str, Category]:
    return {c.wnid: c for c in ilsvrc_categories()}


@functools.lru_cache(maxsize=1)
def ilsvrc_by_det_id() -> dict[int, Category]:
    return {c.det_id: c for c in ilsvrc_categories()}


@functools.lru_cache(maxsize=1)
def _ilsvrc_by_name() -> dict[str, Category]:
    return {c.name.lower(): c for c in ilsvrc_categories()}


VOC_CLASSES: tuple[str, ...] = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable", "dog",
    "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip

# PASCAL VOC 20 class name -> ILSVRC 2014 DET WordNet id (equivalents only; the rest stay their own classes)
VOC_TO_WNID: dict[str, str] = {
    "aeroplane": "n02691156",  # airplane
    "bicycle": "n02834778",  # bicycle
    "bird": "n01503061",  # bird
    "boat": "n04530566",  # watercraft
    "bus": "n02924116",  # bus
    "car": "n02958343",  # car
    "cat": "n02121808",  # domestic cat
    "chair": "n03001627",  # chair
    "cow": "n02402425",  # cattle
    "diningtable": "n04379243",  # table
    "dog": "n02084071",  # dog
    "horse": "n02374451",  # horse
    "motorbike": "n03790512",  # motorcycle
    "person": "n00007846",  # person
    "pottedplant": "n03991062",  # flower pot
    "sheep": "n02411705",  # sheep
    "sofa": "n04256520",  # sofa
    "train": "n04468005",  # train
    "tvmonitor": "n03211117",  # tv or monitor
}

# COCO 80 class name -> ILSVRC 2014 DET WordNet id (equivalents only; the rest stay their own classes)
COCO_TO_WNID: dict[str, str] = {
    "person": "n00007846",  # person
    "bicycle": "n02834778",  # bicycle
    "car": "n02958343",  # car
    "motorcycle": "n03790512",  # motorcycle
    "airplane": "n02691156",  # airplane
    "bus": "n02924116",  # bus
    "train": "n04468005",  # train
    "boat": "n04530566",  # watercraft
    "traffic light": "n06874185",  # traffic light
    "bench": "n02828884",  # bench
    "bird": "n01503061",  # bird
    "cat": "n02121808",  # domestic cat
    "dog": "n02084071",  # dog
    "horse": "n02374451",  # horse
    "sheep": "n02411705",  # sheep
    "cow": "n02402425",  # cattle
    "elephant": "n02503517",  # elephant
    "bear": "n02131653",  # bear
    "zebra": "n02391049",  # zebra
    "backpack": "n02769748",  # backpack
    "handbag": "n04026417",  # purse
    "tie": "n04591157",  # tie
    "skis": "n04228054",  # ski
    "tennis racket": "n04039381",  # racket
    "cup": "n03797390",  # cup or mug
    "bowl": "n02880940",  # bowl
    "banana": "n07753592",  # banana
    "apple": "n07739125",  # apple
    "orange": "n07747607",  # orange
    "hot dog": "n07697537",  # hotdog
    "pizza": "n07873807",  # pizza
    "chair": "n03001627",  # chair
    "couch": "n04256520",  # sofa
    "potted plant": "n03991062",  # flower pot
    "dining table": "n04379243",  # table
    "tv": "n03211117",  # tv or monitor
    "laptop": "n03642806",  # laptop
    "mouse": "n03793489",  # computer mouse
    "remote": "n04074963",  # remote control
    "keyboard": "n03085013",  # computer keyboard
    "microwave": "n03761084",  # microwave
    "toaster": "n04442312",  # toaster
    "refrigerator": "n04070727",  # refrigerator
    "hair drier": "n03483316",  # hair dryer
}

# Penn-Fudan labels its pedestrians "PASpersonWalking" / "PASpersonStanding" (PASCAL Annotation 1.00): the
# ILSVRC class person.
PENNFUDAN_TO_WNID: dict[str, str] = {
    "PASpersonWalking": "n00007846",  # person
    "PASpersonStanding": "n00007846",  # person
    "person": "n00007846",  # person
}

_TABLES = {"voc": VOC_TO_WNID, "coco": COCO_TO_WNID, "pennfudan": PENNFUDAN_TO_WNID}


@functools.lru_cache(maxsize=None)
def _lowercase_table(source: str) -> dict[str, str]:
    return {k.lower(): v for k, v in _TABLES[source].items()}


def category_for_name(name: str, source: str | None = None) -> Category | None:
    """Map a class name (or a WordNet id) onto the ILSVRC vocabulary.

    ``source`` picks the table to use first (``"voc"``, ``"coco"``, ``"pennfudan"``); then a wnid of the 200
    classes and an ILSVRC class name are recognised. Returns ``None`` when the name has no ILSVRC equivalent; the
    caller then keeps it as its own class ``Category(name)``.
    """
    wnid = None
    if source is not None:  # exact, then case-insensitive ("Boat" in Open Images exports is COCO's "boat")
        table = _TABLES[source]
        wnid = table.get(name) or _lowercase_table(source).get(name.lower())
    if wnid is None and is_wnid(name):
        wnid = name
    if wnid is not None:
        return ilsvrc_by_wnid().get(wnid)
    return _ilsvrc_by_name().get(name.lower())


def closest_names(name: str, names: list[str], n: int = 3, cutoff: float = 0.6) -> list[str]:
    """Up to ``n`` of ``names`` (lower case) close to ``name``: those holding it as a word first (``bottle`` → ``water
    bottle``; a plural's singular too), then the closest by spelling (``persn`` → ``person``)."""
    singular = re.sub(r"(?<=[^s])s$", "", name.lower())  # bottles → bottle (a plural's first candidates)
    word = re.compile(rf"\b({re.escape(name.lower())}|{re.escape(singular)})\b")  # bottle → wine bottle, not otter
    close = [x for x in names if word.search(x)]
    close += [x for x in difflib.get_close_matches(name.lower(), names, n=n, cutoff=cutoff) if x not in close]
    return close[:n]


def select_classes(classes, names) -> tuple[str, ...]:
    """The classes of ``classes`` (a model's :class:`Category` tuple) that ``names`` ask for, as their own names, in
    the model's order, each once: ``detect run --classes``. A name matches a class by its name (any case), its
    WordNet id, or a VOC / COCO / Penn-Fudan name of the same ILSVRC class (``motorbike`` is ``motorcycle``,
    ``tvmonitor`` and ``tv`` are ``tv or monitor``). ``names``: strings, or one string of names separated by commas.

    Raises ``ValueError`` naming every name that matches no class (with up to three close class names: those holding
    it as a word first, ``bottle`` → ``water bottle``, then the closest by spelling), or when no name is given."""
    if isinstance(names, str):
        names = [names]
    asked = [n.strip() for text in names for n in str(text).split(",") if n.strip()]
    if not asked:
        raise ValueError("no class named: give one or more class names, separated by commas")
    by_name = {c.name.lower(): c for c in classes}
    by_key = {c.key: c for c in classes}
    chosen, unknown = set(), []
    for name in asked:
        c = by_name.get(name.lower()) or by_key.get(name.lower() if is_wnid(name.lower()) else name)  # N0… too
        if c is None:
            for source in (*_TABLES, None):
                mapped = category_for_name(name, source)
                if mapped is not None and mapped.key in by_key:
                    c = by_key[mapped.key]
                    break
        if c is None:
            unknown.append(name)
        else:
            chosen.add(c.key)
    if unknown:
        hints = []
        for name in unknown:
            close = closest_names(name, list(by_name))
            hints.append(f"{name!r}" + (f" (closest: {', '.join(close)})" if close else ""))
        raise ValueError(f"{'this name is' if len(unknown) == 1 else 'these names are'} not a class of the model: "
                         f"{'; '.join(hints)} — the model has {len(classes)} "
                         f"{'class' if len(classes) == 1 else 'classes'} (`detect inspect MODEL` lists them)")
    return tuple(c.name for c in classes if c.key in chosen)
