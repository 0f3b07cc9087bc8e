from detector.data.vocab import (
    COCO_TO_WNID,
    PENNFUDAN_TO_WNID,
    VOC_CLASSES,
    VOC_TO_WNID,
    Category,
    category_for_name,
    ilsvrc_by_wnid,
    ilsvrc_categories,
)


def test_two_hundred_classes_unique():
    cats = ilsvrc_categories()
    assert len(cats) == 200
    assert len({c.wnid for c in cats}) == 200
    assert len({c.name for c in cats}) == 200
    assert [c.det_id for c in cats] == list(range(1, 201))
    assert cats[0] == Category("accordion", "n02672831", 1)
    assert ilsvrc_by_wnid()["n00007846"].det_id == 124  # person


def test_mapping_tables_point_into_the_vocabulary():
    vocab = ilsvrc_by_wnid()
    for table in (VOC_TO_WNID, COCO_TO_WNID, PENNFUDAN_TO_WNID):
        for name, wnid in table.items():
            assert wnid in vocab, (name, wnid)
    assert set(VOC_TO_WNID) <= set(VOC_CLASSES)
    assert len(VOC_CLASSES) == 20


def test_category_for_name():
    assert category_for_name("person", "voc").wnid == "n00007846"
    assert category_for_name("couch", "coco").name == "sofa"
    assert category_for_name("PASpersonWalking", "pennfudan").det_id == 124
    assert category_for_name("n02084071").name == "dog"  # a wnid
    assert category_for_name("Dog").wnid == "n02084071"  # an ILSVRC name, any case
    assert category_for_name("bottle", "voc") is None  # no single ILSVRC equivalent: stays its own class
    assert category_for_name("giraffe", "coco") is None
    # same class across sources: equal keys
    assert category_for_name("person", "voc").key == category_for_name("n00007846").key
