"""GoogLeNet (Inception v1) as in Table 1 of "Going deeper with convolutions" (Szegedy et al., 2014).

Shapes at 224×224 input (N images): the stem gives N x 192 x 28 x 28, stage 3 N x 480 x 14 x 14, stage 4
N x 832 x 7 x 7 (the auxiliary heads read 4a, N x 512 x 14 x 14, and 4d, N x 528 x 14 x 14), stage 5
N x 1024 x 7 x 7, then global average pooling, dropout 0.4 and the classifier. Any input size ≥ 96 works (the final
pooling is global; the auxiliary heads pool to 4 x 4).

Differences from torchvision's ``googlenet``, which follows the released Caffe model rather than the paper: the
paper has a 5×5 convolution in the 5×5 branch (torchvision: 3×3), LRN after the first pooling and after conv2, no
BatchNorm (available here as ``batch_norm=True``, which trains far better from scratch).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["InceptionConfig", "Inception", "InceptionAux", "GoogLeNet", "GoogLeNetOutputs", "BasicConv2d",
           "INCEPTION_TABLE1", "build_googlenet", "count_params_and_macs", "MapGeometry", "map_geometry"]

# Table 1: name -> (in, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj)
INCEPTION_TABLE1: dict[str, tuple[int, int, int, int, int, int, int]] = {
    "3a": (192, 64, 96, 128, 16, 32, 32),
    "3b": (256, 128, 128, 192, 32, 96, 64),
    "4a": (480, 192, 96, 208, 16, 48, 64),
    "4b": (512, 160, 112, 224, 24, 64, 64),
    "4c": (512, 128, 128, 256, 24, 64, 64),
    "4d": (512, 112, 144, 288, 32, 64, 64),
    "4e": (528, 256, 160, 320, 32, 128, 128),
    "5a": (832, 256, 160, 320, 32, 128, 128),
    "5b": (832, 384, 192, 384, 48, 128, 128),
}


@dataclass(frozen=True)
class InceptionConfig:
    num_classes: int = 201  # 200 ILSVRC DET classes + background (label 0)
    batch_norm: bool = False  # paper: no BN; True = BN after each convolution (trains better from scratch)
    aux_logits: bool = True  # auxiliary classifiers on 4a and 4d (paper: loss weight 0.3, dropped at test time)
    dropout: float = 0.4  # paper: dropout 40 % before the classifier
    aux_dropout: float = 0.7  # paper: 70 % in the auxiliary heads
    lrn: bool = True  # paper/Caffe: LRN after pool1 and after conv2 (left out when batch_norm)
    width: float = 1.0  # channel multiplier (1.0 = the paper; smaller for tiny test or proposal trunks)

    def to_dict(self) -> dict:
        return asdict(self)


class BasicConv2d(nn.Module):
    """Convolution → (BatchNorm) → ReLU."""

    def __init__(self, in_ch: int, out_ch: int, batch_norm: bool, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, bias=not batch_norm, **kwargs)
        self.bn = nn.BatchNorm2d(out_ch, eps=1e-3) if batch_norm else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


class Inception(nn.Module):
    """Four parallel branches concatenated: 1×1; 1×1→3×3; 1×1→5×5; 3×3/1 max pool→1×1."""

    def __init__(self, in_ch, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj, batch_norm: bool = False):
        super().__init__()
        self.branch1 = BasicConv2d(in_ch, ch1x1, batch_norm, kernel_size=1)
        self.branch2 = nn.Sequential(BasicConv2d(in_ch, ch3x3red, batch_norm, kernel_size=1),
                                     BasicConv2d(ch3x3red, ch3x3, batch_norm, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(in_ch, ch5x5red, batch_norm, kernel_size=1),
                                     BasicConv2d(ch5x5red, ch5x5, batch_norm, kernel_size=5, padding=2))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
                                     BasicConv2d(in_ch, pool_proj, batch_norm, kernel_size=1))
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """Auxiliary classifier: 5×5/3 average pool → 1×1 conv 128 → fc 1024 → dropout 0.7 → fc num_classes."""

    def __init__(self, in_ch: int, num_classes: int, batch_norm: bool, dropout: float = 0.7):
        super().__init__()
        self.conv = BasicConv2d(in_ch, 128, batch_norm, kernel_size=1)
        self.fc1 = nn.Linear(128 * 4 * 4, 1024)
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        # N x C x 14 x 14 at 224 input → N x C x 4 x 4 (exactly the paper's 5×5/3 pool there; adaptive otherwise)
        if x.shape[-1] >= 5 and x.shape[-2] >= 5:
            x = F.avg_pool2d(x, kernel_size=5, stride=3)
        x = F.adaptive_avg_pool2d(x, (4, 4))
        x = self.conv(x)  # N x 128 x 4 x 4
        x = torch.flatten(x, 1)
        x = self.dropout(F.relu(self.fc1(x), inplace=True))  # N x 1024
        return self.fc2(x)  # N x num_classes


class GoogLeNetOutputs(NamedTuple):
    logits: Tensor
    aux1: Tensor | None  # from 4a
    aux2: Tensor | None  # from 4d


def _c(n: int, width: float) -> int:
    return max(8, int(round(n * width)))


class MapGeometry(NamedTuple):
    """Where a feature map's cells sit on its input: map coordinate ``z`` (cell ``j`` spans ``[j, j + 1)``) is input
    coordinate ``offset + stride * z`` (continuous pixels, pixel ``i`` spans ``[i, i + 1)``); ``size`` cells across
    an input of the size asked for."""

    size: int
    stride: int
    offset: float


def map_geometry(layers, input_size: int) -> MapGeometry:
    """The :class:`MapGeometry` after ``layers`` (``nn.Conv2d`` / ``nn.MaxPool2d`` / ``nn.AvgPool2d``, square, in
    order; size-preserving layers such as Inception modules can be left out) for an ``input_size`` input.

    Each layer maps output cell ``a`` onto the centre of its window, input pixel ``a * s - p + (k - 1) / 2``, i.e.
    ``x = s * z + (k - s) / 2 - p``; sizes as PyTorch computes them, ``ceil_mode`` included. For GoogLeNet's
    inception 4e map: stride 16, offset 6.5 (cell ``j`` centred on pixel 16 j + 14), 14 cells at 224 and 7 at 112."""
    size, stride, offset = int(input_size), 1, 0.0
    for m in layers:
        k, s, p = (v if isinstance(v, int) else v[0] for v in (m.kernel_size, m.stride, m.padding))
        ceil = bool(getattr(m, "ceil_mode", False))
        span = size + 2 * p - k
        out = (-(-span // s) if ceil else span // s) + 1
        if ceil and (out - 1) * s >= size + p:  # PyTorch: the last window must start inside the input
            out -= 1
        offset += stride * ((k - s) / 2 - p)
        stride *= s
        size = out
    return MapGeometry(size, stride, offset)


class GoogLeNet(nn.Module):
    """GoogLeNet as in Table 1. ``forward`` returns logits in eval mode, :class:`GoogLeNetOutputs` in training
    mode when ``aux_logits``. ``forward_trunk`` runs up to inception 4e and ``forward_tail`` finishes from 5a,
    so region features can be pooled from the 4e map (the fast mode)."""

    def __init__(self, config: InceptionConfig = InceptionConfig()):
        super().__init__()
        self.config = config
        bn, w = config.batch_norm, config.width
        use_lrn = config.lrn and not bn
        self.conv1 = BasicConv2d(3, _c(64, w), bn, kernel_size=7, stride=2, padding=3)  # N x 64 x 112 x 112
        self.pool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # N x 64 x 56 x 56
        self.lrn1 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0) if use_lrn else nn.Identity()
        self.conv2 = BasicConv2d(_c(64, w), _c(64, w), bn, kernel_size=1)  # #3x3 reduce 64
        self.conv3 = BasicConv2d(_c(64, w), _c(192, w), bn, kernel_size=3, padding=1)  # N x 192 x 56 x 56
        self.lrn2 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0) if use_lrn else nn.Identity()
        self.pool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # N x 192 x 28 x 28

        def inc(name, in_ch):
            _, *chs = INCEPTION_TABLE1[name]
            return Inception(in_ch, *[_c(c, w) for c in chs], batch_norm=bn)

        self.inception3a = inc("3a", _c(192, w))  # N x 256 x 28 x 28
        self.inception3b = inc("3b", self.inception3a.out_channels)  # N x 480 x 28 x 28
        self.pool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # N x 480 x 14 x 14
        self.inception4a = inc("4a", self.inception3b.out_channels)  # N x 512 x 14 x 14
        self.inception4b = inc("4b", self.inception4a.out_channels)
        self.inception4c = inc("4c", self.inception4b.out_channels)
        self.inception4d = inc("4d", self.inception4c.out_channels)  # N x 528 x 14 x 14
        self.inception4e = inc("4e", self.inception4d.out_channels)  # N x 832 x 14 x 14
        self.pool4 = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # N x 832 x 7 x 7
        self.inception5a = inc("5a", self.inception4e.out_channels)
        self.inception5b = inc("5b", self.inception5a.out_channels)  # N x 1024 x 7 x 7
        self.num_features = self.inception5b.out_channels
        self.trunk_channels = self.inception4e.out_channels
        if config.aux_logits:
            self.aux1 = InceptionAux(self.inception4a.out_channels, config.num_classes, bn, config.aux_dropout)
            self.aux2 = InceptionAux(self.inception4d.out_channels, config.num_classes, bn, config.aux_dropout)
        else:
            self.aux1 = self.aux2 = None
        self.dropout = nn.Dropout(config.dropout)
        self.fc = nn.Linear(self.num_features, config.num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0.2 if not self.config.batch_norm else 0.0)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _stem(self, x: Tensor) -> Tensor:
        x = self.lrn1(self.pool1(self.conv1(x)))
        x = self.pool2(self.lrn2(self.conv3(self.conv2(x))))
        x = self.pool3(self.inception3b(self.inception3a(x)))  # N x 480 x 14 x 14
        return x

    def forward_trunk(self, x: Tensor) -> Tensor:
        """Image → inception 4e map, N x 832 x H/16 x W/16 (no auxiliary heads)."""
        x = self._stem(x)
        for m in (self.inception4a, self.inception4b, self.inception4c, self.inception4d, self.inception4e):
            x = m(x)
        return x

    def forward_tail(self, x: Tensor) -> Tensor:
        """Inception 4e map → 5a, 5b → global average pooling → dropout → logits."""
        return self.classify(self.forward_tail_pooled(x))

    def forward_tail_pooled(self, x: Tensor) -> Tensor:
        """Inception 4e map → 5a, 5b → global average pooling: N x 1024 (the classifier's input)."""
        return self.pool(self.inception5b(self.inception5a(self.pool4(x))))

    def trunk_geometry(self, input_size: int) -> MapGeometry:
        """Size, stride and offset of the inception 4e map (:meth:`forward_trunk`) of an ``input_size`` input."""
        return map_geometry([self.conv1.conv, self.pool1, self.conv2.conv, self.conv3.conv, self.pool2, self.pool3],
                            input_size)

    def forward_features(self, x: Tensor) -> Tensor:
        """Image → inception 5b map, N x 1024 x 7 x 7 at 224 input."""
        return self.inception5b(self.inception5a(self.pool4(self.forward_trunk(x))))

    @staticmethod
    def pool(x: Tensor) -> Tensor:
        """Global average pooling: N x C x h x w → N x C."""
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)

    def classify(self, pooled: Tensor) -> Tensor:
        """Pooled features N x 1024 → dropout → logits N x num_classes."""
        return self.fc(self.dropout(pooled))

    def forward_head(self, x: Tensor) -> Tensor:
        """Inception 5b map → global average pooling → dropout → logits."""
        return self.classify(self.pool(x))

    def forward(self, x: Tensor, *, with_features: bool = False):
        """Logits (eval) or :class:`GoogLeNetOutputs` (training with auxiliary heads); with ``with_features`` also
        the pooled features N x 1024 the classifier read, as ``(out, features)``."""
        x = self._stem(x)
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        pooled = self.forward_tail_pooled(self.inception4e(x))
        logits = self.classify(pooled)
        out = GoogLeNetOutputs(logits, aux1, aux2) if self.training and self.aux1 is not None else logits
        return (out, pooled) if with_features else out


def build_googlenet(*, num_classes: int = 201, batch_norm: bool = False, aux_logits: bool = True,
                    width: float = 1.0, **kwargs) -> GoogLeNet:
    """The paper's GoogLeNet (``batch_norm=False``) or its BatchNorm variant."""
    return GoogLeNet(InceptionConfig(num_classes=num_classes, batch_norm=batch_norm, aux_logits=aux_logits,
                                     width=width, **kwargs))


def count_params_and_macs(model: nn.Module, input_size: int = 224) -> tuple[int, int]:
    """Weights (no biases, no BatchNorm) of convolutions and linear layers reached in an eval-mode forward pass, and
    their multiply-adds at ``input_size`` — the two counts of the paper's Table 1."""
    params, macs = 0, 0
    seen = set()

    def hook(m, inp, out):
        nonlocal params, macs
        n = m.weight.numel()
        if id(m) not in seen:
            seen.add(id(m))
            params += n
        if isinstance(m, nn.Conv2d):
            macs += n * out.shape[-1] * out.shape[-2] // m.groups * m.groups
        else:
            macs += n

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, input_size, input_size))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return params, macs
