"""Reference cases of the box losses (`tests/reference/detection.json`).

Expected numbers come from torchvision itself, in float32 and float64:
`generalized_box_iou_loss`, `distance_box_iou_loss`, `complete_box_iou_loss`, with
`box_convert(.., fmt, 'xyxy')` in front for the `xywh` and `cxcywh` formats (so gradients are
with respect to the boxes in the format given, through torch autograd of the conversion).
`iou` and `eiou` have no library function: their numbers are torch autograd of the formula
(below, built on torchvision's own `_loss_inter_union`) in float64, rounded to the pass's type.

Where losskit deliberately differs (each loss's rustdoc), the `call` shows how the expected
value is formed instead:

- `ciou` with a non-default `eps`: torchvision passes `eps` to α only (its DIoU part uses
  1e-7); losskit uses `eps` everywhere, i.e. `ciou_eps` below (torchvision's `_diou_iou_loss`
  with the same `eps`, plus its detached α·v).
- `ciou` with zero-width or zero-height boxes: torchvision's value (finite) is checked; its
  gradient is NaN there (0·∞ in the derivative of atan(w/h)), so no gradient is recorded;
  the Rust tests check losskit's finite gradient against central differences instead.
- inverted boxes, `[N, 3]` boxes, different N, an unknown format, a negative eps and `mean`
  over no boxes are errors (torchvision returns a number for most of them).

Run: python tools/reference/generate.py detection
"""

import builtins

import numpy as np
import torch
import torchvision
import torchvision.ops
from torchvision.ops._utils import _loss_inter_union
from torchvision.ops.diou_loss import _diou_iou_loss

from common import REDUCE, Family, f32, rng

FORMATS = ("xyxy", "xywh", "cxcywh")
LIB = {
    "giou": "torchvision.ops.generalized_box_iou_loss",
    "diou": "torchvision.ops.distance_box_iou_loss",
    "ciou": "torchvision.ops.complete_box_iou_loss",
}


def iou_loss(b1, b2, eps):
    """1 − IoU, as torchvision forms IoU in its losses."""
    inter, union = _loss_inter_union(b1, b2)
    return 1 - inter / (union + eps)


def eiou_loss(b1, b2, eps):
    """The EIoU term (Zhang et al. 2022): DIoU plus the side differences over the enclosing sides."""
    inter, union = _loss_inter_union(b1, b2)
    iou = inter / (union + eps)
    x1, y1, x2, y2 = b1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = b2.unbind(dim=-1)
    cw = torch.max(x2, x2g) - torch.min(x1, x1g)
    ch = torch.max(y2, y2g) - torch.min(y1, y1g)
    rho = ((x2 + x1) / 2 - (x1g + x2g) / 2) ** 2 + ((y2 + y1) / 2 - (y1g + y2g) / 2) ** 2
    w, h, wg, hg = x2 - x1, y2 - y1, x2g - x1g, y2g - y1g
    return (1 - iou + rho / (cw**2 + ch**2 + eps) + (w - wg) ** 2 / (cw**2 + eps)
            + (h - hg) ** 2 / (ch**2 + eps))


def ciou_eps(b1, b2, eps):
    """torchvision's complete_box_iou_loss with `eps` also in its DIoU part."""
    diou, iou = _diou_iou_loss(b1, b2, eps)
    x1, y1, x2, y2 = b1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = b2.unbind(dim=-1)
    v = (4 / (torch.pi**2)) * torch.pow(
        torch.atan((x2g - x1g) / (y2g - y1g)) - torch.atan((x2 - x1) / (y2 - y1)), 2)
    with torch.no_grad():
        alpha = v / (1 - iou + v + eps)
    return diou + alpha * v


# The `call` strings name these like torch; common.evaluate binds only torch and math.
builtins.torchvision = torchvision
builtins.iou_loss = iou_loss
builtins.eiou_loss = eiou_loss
builtins.ciou_eps = ciou_eps

fam = Family("detection", tools={"torchvision": torchvision.__version__})


def xyxy(b, fmt):
    """`b` in the call's variables: converted to corners for the tool."""
    return b if fmt == "xyxy" else f"torchvision.ops.box_convert({b}, '{fmt}', 'xyxy')"


def call(loss, fmt, eps=None):
    i, t = xyxy("input", fmt), xyxy("target", fmt)
    if loss in ("iou", "eiou"):
        e = 1e-7 if eps is None else eps
        return f"{REDUCE}({loss}_loss({i}.double(), {t}.double(), {e!r}))"
    if loss == "ciou" and eps is not None:
        return f"{REDUCE}(ciou_eps({i}, {t}, {eps!r}))"
    extra = "" if eps is None else f", eps={eps!r}"
    return f"{LIB[loss]}({i}, {t}, reduction=R{extra})"


def to_format(c, fmt):
    """xyxy corners (exact dyadic numbers) in `fmt`, exactly."""
    c = np.asarray(c, dtype=np.float64)
    x1, y1, x2, y2 = c[:, 0], c[:, 1], c[:, 2], c[:, 3]
    if fmt == "xyxy":
        return c
    if fmt == "xywh":
        return np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)
    return np.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], axis=1)


def random_boxes(r, n, fmt, scale):
    """`n` float32 boxes drawn directly in `fmt`."""
    xy = r.uniform(0, 10 * scale, size=(n, 2))
    wh = r.uniform(0.3 * scale, 5 * scale, size=(n, 2))
    if fmt == "xyxy":
        return f32(np.concatenate([xy, xy + wh], axis=1))
    return f32(np.concatenate([xy, wh], axis=1))


def jitter(r, b, fmt, scale):
    """Predictions near the targets `b` (same format): shifted and resized."""
    p = b.copy()
    p[:, :2] += r.uniform(-1.5, 1.5, size=(len(b), 2)) * scale
    if fmt == "xyxy":
        p[:, 2:] = np.maximum(p[:, :2] + 0.1, b[:, 2:] + r.uniform(-1.5, 1.5, size=(len(b), 2)) * scale)
    else:
        p[:, 2:] = b[:, 2:] * r.uniform(0.5, 1.6, size=(len(b), 2))
    return f32(p)


# Pairs with a structure, as xyxy corners (dyadic: exact in every format).
SPECIAL_PRED = [
    [1.0, 1.0, 3.0, 4.0],      # identical to its target
    [0.0, 0.0, 1.0, 1.0],      # apart, side by side
    [0.0, 0.0, 1.0, 1.0],      # apart, diagonal
    [2.0, 2.0, 3.0, 3.0],      # inside its target
    [0.0, 0.0, 2.0, 2.0],      # touching edge (zero-width overlap)
    [0.5, 0.25, 2.5, 3.0],     # partial overlap
    [1.0, 0.0, 3.0, 1.0],      # same centre, other shape
    [0.0, 0.0, 4.0, 4.0],      # contains its target, shared left edge
]
SPECIAL_TARGET = [
    [1.0, 1.0, 3.0, 4.0],
    [2.0, 0.0, 3.0, 1.0],
    [3.0, 2.5, 4.0, 3.5],
    [0.0, 0.0, 5.0, 5.0],
    [2.0, 0.0, 3.0, 2.0],
    [1.0, 1.0, 3.5, 2.5],
    [1.5, -0.5, 2.5, 1.5],
    [0.0, 1.0, 2.0, 2.0],
]
# Zero-width, zero-height and point boxes (xyxy).
DEGENERATE_PRED = [
    [1.0, 1.0, 1.0, 3.0],      # zero width, overlapping a normal box
    [0.0, 2.0, 4.0, 2.0],      # zero height, crossing a normal box
    [2.0, 2.0, 2.0, 2.0],      # a point inside a normal box
    [1.0, 1.0, 1.0, 1.0],      # a point on a point
    [0.0, 0.0, 2.0, 2.0],      # normal box against a zero-width target
    [5.0, 5.0, 5.0, 6.0],      # zero width, apart
]
DEGENERATE_TARGET = [
    [0.0, 0.0, 2.0, 2.0],
    [1.0, 1.0, 3.0, 3.0],
    [1.0, 1.0, 3.0, 3.0],
    [1.0, 1.0, 1.0, 1.0],
    [1.0, 0.0, 1.0, 2.0],
    [0.0, 0.0, 1.0, 1.0],
]
# torchvision's CIoU is NaN (value) on point boxes: its zero-side rows only.
CIOU_DEGENERATE = [0, 1, 4, 5]

LOSSES = ("iou", "giou", "diou", "ciou", "eiou")


def main():
    for loss in LOSSES:
        for fmt in FORMATS:
            params = {} if fmt == "xyxy" else {"format": fmt}
            for scale in (1.0, 40.0):
                cid = f"{loss}/{fmt}/random-scale{scale:g}"
                r = rng(cid)
                t = random_boxes(r, 9, fmt, scale)
                p = jitter(r, t, fmt, scale)
                fam.case(cid, loss, call(loss, fmt), {"input": p, "target": t}, params=params)
            fam.case(f"{loss}/{fmt}/special", loss, call(loss, fmt),
                     {"input": to_format(SPECIAL_PRED, fmt), "target": to_format(SPECIAL_TARGET, fmt)},
                     params=params)
        rows = CIOU_DEGENERATE if loss == "ciou" else range(len(DEGENERATE_PRED))
        pred = np.array([DEGENERATE_PRED[i] for i in rows])
        target = np.array([DEGENERATE_TARGET[i] for i in rows])
        fam.case(f"{loss}/xyxy/degenerate", loss, call(loss, "xyxy"), {"input": pred, "target": target},
                 grads=() if loss == "ciou" else ("input",))
        cid = f"{loss}/cxcywh/eps=0.01"
        r = rng(cid)
        t = random_boxes(r, 6, "cxcywh", 0.2)
        p = jitter(r, t, "cxcywh", 0.2)
        fam.case(cid, loss, call(loss, "cxcywh", eps=0.01), {"input": p, "target": t},
                 params={"eps": 0.01, "format": "cxcywh"})

    GOOD = np.array([[0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 2.0, 3.0], [0.0, 0.0, 2.0, 2.0]])
    INVERTED = np.array([[0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 2.0, 3.0], [2.0, 0.0, 1.0, 2.0]])
    fam.error("giou/error/inverted-input", "giou", {"input": INVERTED, "target": GOOD},
              "`input` row 2 is [2.0, 0.0, 1.0, 2.0] in format `xyxy`: x2 < x1 (an inverted box)",
              call="torchvision.ops.generalized_box_iou_loss(input, target) (returns a number)")
    fam.error("ciou/error/inverted-target", "ciou",
              {"input": GOOD, "target": INVERTED[:, [1, 0, 3, 2]]},
              "`target` row 2 is [0.0, 2.0, 2.0, 1.0] in format `xyxy`: y2 < y1 (an inverted box)",
              call="torchvision.ops.complete_box_iou_loss(input, target) (returns a number)")
    fam.error("diou/error/negative-width", "diou",
              {"input": np.array([[0.0, 0.0, 1.0, 1.0], [3.0, 3.0, -1.0, 2.0]]),
               "target": GOOD[:2]},
              "`input` row 1 is [3.0, 3.0, -1.0, 2.0] in format `xywh`: the width is negative",
              params={"format": "xywh"})
    fam.error("eiou/error/negative-height", "eiou",
              {"input": GOOD[:2], "target": np.array([[0.0, 0.0, 1.0, 1.0], [3.0, 3.0, 1.0, -2.0]])},
              "`target` row 1 is [3.0, 3.0, 1.0, -2.0] in format `cxcywh`: the height is negative",
              params={"format": "cxcywh"})
    fam.error("iou/error/not-boxes", "iou", {"input": GOOD[:, :3], "target": GOOD[:, :3]},
              "`input` has shape [3, 3], expected [N, 4] (one box per row)")
    fam.error("giou/error/different-n", "giou", {"input": GOOD, "target": GOOD[:2]},
              "`target` has shape [2, 4], expected [3, 4]")
    fam.error("diou/error/unknown-format", "diou", {"input": GOOD, "target": GOOD},
              "`format` must be one of the words", params={"format": "xxyy"})
    fam.error("ciou/error/negative-eps", "ciou", {"input": GOOD, "target": GOOD},
              "`eps` must be >= 0 and finite, got -0.001", params={"eps": -0.001})
    fam.error("eiou/error/empty-mean", "eiou",
              {"input": np.zeros((0, 4)), "target": np.zeros((0, 4))},
              "reduction `mean` over an empty input is undefined",
              call="torchvision.ops.generalized_box_iou_loss(input, target, reduction='mean') (returns 0)")
    fam.write()


if __name__ == "__main__":
    main()
