"""Model architectures by name: ``build_model(name, input_shape, num_classes, **options)``.
Any user ``nn.Module`` that maps a batch of inputs to logits works too."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import UnlearnkitError
from ..registry import Registry

MODELS: Registry = Registry("model")


def build_model(name: str, input_shape: tuple[int, ...], num_classes: int, **options) -> nn.Module:
    factory = MODELS.get(name)
    try:
        return factory(tuple(input_shape), num_classes, **options)
    except TypeError as e:
        raise UnlearnkitError(f"model {name!r}: bad options {options} ({e})") from None


@MODELS.register("logreg")
class LogReg(nn.Module):
    """Multinomial logistic regression (a single linear layer on the flattened input)."""

    def __init__(self, input_shape, num_classes, bias: bool = True):
        super().__init__()
        self.fc = nn.Linear(math.prod(input_shape), num_classes, bias=bias)

    def forward(self, x):
        return self.fc(x.flatten(1))


@MODELS.register("mlp")
class MLP(nn.Module):
    """ReLU MLP; ``features(x)`` gives the last hidden layer (the head's input)."""

    def __init__(self, input_shape, num_classes, hidden: list[int] | int = (128, 64)):
        super().__init__()
        hidden = [hidden] if isinstance(hidden, int) else list(hidden)
        layers, d = [], math.prod(input_shape)
        for h in hidden:
            layers += [nn.Linear(d, h), nn.ReLU()]
            d = h
        self.body = nn.Sequential(nn.Flatten(), *layers)
        self.head = nn.Linear(d, num_classes)

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.body(x))


def image_channels(name: str, input_shape) -> int:
    """The channel count of (C, H, W) inputs for a convolutional model, or one clear error: other ranks
    (grayscale stacks stored (N, H, W)) and channels-last images (H, W, C), which would otherwise fail inside
    a convolution or a pooling layer with PyTorch's shape message."""
    shape = tuple(int(d) for d in input_shape)
    if len(shape) != 3:
        fix = "; for grayscale images add a channel axis: x[:, None] → (N, 1, H, W)" if len(shape) == 2 else ""
        raise UnlearnkitError(f"{name} needs image inputs (C, H, W); got shape {shape}{fix}")
    if shape[0] > 4 and shape[2] in (1, 3, 4):
        raise UnlearnkitError(
            f"{name} reads inputs as (C, H, W) but {shape} looks channels-last (H, W, C); store the images as "
            f"(N, C, H, W): x.transpose(0, 3, 1, 2)"
        )
    if min(shape[1:]) < 4:
        raise UnlearnkitError(f"{name} needs images of at least 4×4 pixels; got {shape[1]}×{shape[2]}")
    return shape[0]


@MODELS.register("cnn")
class SmallCNN(nn.Module):
    """Two conv blocks (conv-BN-ReLU-pool) and a linear head; any input size ≥ 4×4."""

    def __init__(self, input_shape, num_classes, width: int = 32):
        super().__init__()
        c = image_channels("cnn", input_shape)
        self.body = nn.Sequential(
            nn.Conv2d(c, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(2),
            nn.Flatten(),
        )
        self.head = nn.Linear(8 * width, num_classes)

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.body(x))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.short = nn.Sequential()
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = torch.relu(self.b1(self.c1(x)))
        return torch.relu(self.b2(self.c2(out)) + self.short(x))


@MODELS.register("resnet18")
class ResNet18(nn.Module):
    """ResNet-18 with the CIFAR stem (3×3 conv, no max-pool); channels from the dataset."""

    def __init__(self, input_shape, num_classes, width: int = 64):
        super().__init__()
        image_channels("resnet18", input_shape)
        w = width
        # the stem lives in ``body`` only: a second attribute would give its tensors two state-dict names
        stem = nn.Sequential(nn.Conv2d(input_shape[0], w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU())
        blocks, cin = [], w
        for i, cout in enumerate([w, 2 * w, 4 * w, 8 * w]):
            for j in range(2):
                blocks.append(BasicBlock(cin, cout, 2 if (j == 0 and i > 0) else 1))
                cin = cout
        self.body = nn.Sequential(stem, *blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(cin, num_classes)

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.body(x))
