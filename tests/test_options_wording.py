"""detector.nn.options: one home for naming a setting by its option and for the words of a refused resume (closing
note 20: "what changed since that run" was written in four styles — "(was x)", "started with x; now y", "x now, y in
that run", "started with x, not y")."""

from pathlib import Path

from detector.nn.options import option_flag, refused_resume, setting_change


def test_option_flag_spells_a_setting_as_its_option():
    assert option_flag("multibox_top") == "--multibox-top"
    assert option_flag("method", {"method": "--proposals"}) == "--proposals"
    assert option_flag("nms", value="greedy") == "--nms greedy"
    assert option_flag("ss_scale", {"method": "--proposals"}, 2.0) == "--ss-scale 2.0"


def test_a_refused_resume_reads_the_same_everywhere(tmp_path):
    out = tmp_path / "m.pt"
    change = setting_change("--lr", 0.01, 0.1)
    assert change == "--lr 0.01 now, 0.1 in that run"
    msg = refused_resume(out, [change, setting_change("--seed", 1, 0)], may_change="--epochs")
    assert msg == (f"cannot resume {out}: it was started with other settings (--lr 0.01 now, 0.1 in that run; --seed 1 "
                   f"now, 0 in that run; only --epochs may change). Give the same, or delete "
                   f"{Path(tmp_path / 'm.state.ckpt')} to start over")
    msg = refused_resume(out, [setting_change("--val", "b.json", "a.json")], what="validation data",
                         start_over="delete the members' state files to start the ensemble over")
    assert msg == (f"cannot resume {out}: it was started with other validation data (--val b.json now, a.json in "
                   "that run). Give the same, or delete the members' state files to start the ensemble over")


def test_which_settings_a_run_ignores_is_the_engines_rule_not_the_output_formats():
    """boxes_json.differences compared the settings knowing selective search was unused under MultiBox proposals
    (a proposer rule in the output-format module); the rule is detector.engines.setting_unused, given to it."""
    from detector.data.boxes_json import differences
    from detector.engines import setting_unused, shown_setting

    before = {"settings": {"proposals": "both", "ss_scale": 2.0, "multibox_top": 100}}
    mb = {"settings": {"proposals": "multibox", "multibox_top": 100}}
    ss = {"settings": {"proposals": "ss", "ss_scale": 2.0}}
    kw = dict(labels=("now", "in that run"), shown=shown_setting, named=option_flag)
    assert differences(before, mb, **kw, unused=setting_unused) == "--proposals multibox now, both in that run"
    assert differences(before, ss, **kw, unused=setting_unused) == "--proposals ss now, both in that run"
    assert "--ss-scale not used (--proposals multibox) now, 2.0 in that run" in differences(before, mb, **kw)
    assert setting_unused(mb["settings"], "ss_mode") and not setting_unused(mb["settings"], "multibox_top")
    assert setting_unused(ss["settings"], "multibox_top") and not setting_unused(before["settings"], "ss_scale")
