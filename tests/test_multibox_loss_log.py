"""`detect train multibox` minimises ``F_conf + α F_loc`` (α = 0.3), but its log and the loss parts recorded
``loc`` as ``F_loc`` unweighted: the logged ``loss`` was not ``conf + loc`` (4.6615 against 4.6439 + 0.0588), and
a reader could not tell how much the location term weighed in what was optimised. The parts are now the two terms
of the loss as optimised — ``loc`` is ``α F_loc`` —, so that ``loss = conf + loc``."""

import json

import pytest
import torch

from proposals.multibox import multibox_loss
from proposals.multibox_train import MultiBoxTrainConfig, train_multibox
from test_multibox import PRIORS, synthetic_samples, tiny


def test_the_loss_parts_are_the_terms_optimised():
    gt = torch.tensor([[0.0, 0.0, 0.5, 0.5]])
    loc = torch.tensor([[[0.0, 0.0, 0.6, 0.5], [0.5, 0.5, 1.0, 1.0]]])
    logits = torch.tensor([[1.0, -1.0]])
    for alpha in (0.3, 1.0):
        loss, parts = multibox_loss(loc, logits, [gt], alpha=alpha)
        assert parts["loc"] == pytest.approx(alpha * 0.5 * 0.01, rel=1e-4)  # α · ½‖Δ‖²
        assert float(loss) == pytest.approx(parts["conf"] + parts["loc"], rel=1e-6)


def test_the_log_records_the_loss_as_the_sum_of_its_parts(tmp_path):
    samples = synthetic_samples(n=4)
    cfg = MultiBoxTrainConfig(epochs=1, batch_size=2, lr=0.05, warmup_iters=1, photometric=False)
    train_multibox(samples, PRIORS, tiny(), cfg, tmp_path / "m.pt")
    (rec,) = [json.loads(line) for line in (tmp_path / "m.log.jsonl").read_text().splitlines()]
    assert rec["loc"] > 0 and rec["loss"] == pytest.approx(rec["conf"] + rec["loc"], rel=1e-5), rec
