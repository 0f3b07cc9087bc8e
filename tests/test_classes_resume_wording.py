"""A job without --classes is named "none (every class)" when a resume or merge compares it with one that
had them (trial 57: it read "classes: not recorded now", as an older version's job reads)."""

from detector.data.boxes_json import differences
from detector.engines import shown_setting
from detector.nn.options import option_flag


def test_no_classes_is_every_class_not_unrecorded():
    def changed(before, now):
        return differences({"settings": before}, {"settings": now}, labels=("now", "in that run"), shown=shown_setting,
                           named=option_flag)

    assert changed({"classes": ["dog", "person"]}, {}) == \
        "--classes none (every class) now, dog,person in that run"
    assert changed({}, {"classes": ["person"]}) == \
        "--classes person now, none (every class) in that run"
