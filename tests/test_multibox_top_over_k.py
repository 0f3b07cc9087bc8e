"""`--multibox-top N` with N above the K boxes the MultiBox network outputs proposed at most K an image, without a
word (`detect run --proposals multibox --multibox-top 500` with the bundled K = 200 network: 200 at most, said
nowhere). A warning names K and the network, once; at or below K, or left at its default, nothing is said."""

import numpy as np
from click.testing import CliRunner
from PIL import Image

from cli.main import cli
from proposals.multibox import MultiBox, MultiBoxConfig, save_multibox
from test_cli_run import tiny_model
from test_multibox import PRIORS  # K = 4


def test_a_multibox_top_above_k_is_warned_of(tmp_path):
    mb = save_multibox(tmp_path / "mb4.pt", MultiBox(MultiBoxConfig(num_priors=len(PRIORS), input_size=96,
                                                                    width=0.125), PRIORS).eval())
    model = tiny_model(tmp_path / "m.pt")
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    warning = (f"warning: --multibox-top 10 is more than the 4 boxes (K) the MultiBox network {mb} outputs: it "
               "proposes at most 4 an image")
    for extra in (["run", "--model", str(model), "--out", str(tmp_path / "b.json"), "--workers", "0",
                   "--proposals", "multibox"],
                  ["proposals", "--method", "multibox", "--out", str(tmp_path / "p.json"), "--workers", "0"]):
        cmd, *rest = extra
        res = CliRunner().invoke(cli, [cmd, str(tmp_path / "a.png"), *rest, "--multibox", str(mb), "--multibox-top",
                                       "10"])
        assert res.exit_code == 0 and res.output.count(warning) == 1, res.output
        for top in (["--multibox-top", "4"], []):  # K itself, and the default 200 not asked for: nothing to say
            res = CliRunner().invoke(cli, [cmd, str(tmp_path / "a.png"), *rest, "--multibox", str(mb), *top])
            assert res.exit_code == 0 and "--multibox-top" not in res.output, res.output


def test_load_detector_warns_of_a_multibox_top_above_k_as_detect_run_does(tmp_path):
    import warnings

    import pytest

    from detector import load_detector

    mb = save_multibox(tmp_path / "mb4.pt", MultiBox(MultiBoxConfig(num_priors=len(PRIORS), input_size=96,
                                                                    width=0.125), PRIORS).eval())
    model = tiny_model(tmp_path / "m.pt")
    with pytest.warns(UserWarning, match=f"multibox_top=10 is more than the 4 boxes \\(K\\) the MultiBox network {mb}"):
        load_detector(model, proposals="multibox", multibox=mb, multibox_top=10, device="cpu", no_cache=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # at K, or the default not asked for: nothing
        load_detector(model, proposals="multibox", multibox=mb, multibox_top=4, device="cpu", no_cache=True)
        load_detector(model, proposals="multibox", multibox=mb, device="cpu", no_cache=True)


def test_load_detector_warns_of_a_presets_multibox_top_above_k_as_detect_run_does(tmp_path):
    """`detect run --preset fast --multibox M` warns of the preset's --multibox-top 100 above M's K; load_detector
    with the same preset and network said nothing (it looked at multibox_top given alone)."""
    import pytest

    from detector import load_detector

    mb = save_multibox(tmp_path / "mb4.pt", MultiBox(MultiBoxConfig(num_priors=len(PRIORS), input_size=96,
                                                                    width=0.125), PRIORS).eval())
    model = tiny_model(tmp_path / "m.pt")
    with pytest.warns(UserWarning, match=f"multibox_top=100 \\(the fast preset's\\) is more than the 4 boxes \\(K\\) "
                                         f"the MultiBox network {mb}"):
        load_detector(model, preset="fast", multibox=mb, device="cpu", no_cache=True)
