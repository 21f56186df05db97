"""Reference cases of the segmentation losses (`tests/reference/segmentation.json`) and of the
distance transform (`tests/reference/distance/edt.json`).

Expected numbers come from the reference libraries themselves, in float32 and float64, values
and gradients by torch autograd:
- MONAI `DiceLoss` (also `jaccard=True`), `TverskyLoss`, `GeneralizedDiceLoss`, `DiceCELoss`,
  `DiceFocalLoss`, `HausdorffDTLoss`, `SoftclDiceLoss`, `GeneralizedWassersteinDiceLoss`;
  `focal_tversky` raises MONAI's per-class `TverskyLoss(reduction="none")` to gamma;
- segmentation-models-pytorch `LovaszLoss` ("binary", "multiclass"), with two patches, both
  recorded in the `tool` field: its `_lovasz_grad` keeps the input's dtype (smp casts to float32,
  which `torch.dot` rejects against float64 errors, so smp cannot run in float64 at all), and
  `torch.sort` is made stable (its default leaves the order of tied errors unspecified, and
  the gradient at ties depends on it; losskit orders ties by position);
- boundary loss: Kervadec et al.'s reference code, `one_hot2dist` (copied below from
  LIVIAETS/boundary-loss `utils.py`) with scipy's `distance_transform_edt`, and the loss as their
  `BoundaryLoss` (`einsum` of probabilities and maps, then the mean);
- the distance transform: scipy `distance_transform_edt`, compared bit for bit.

Where losskit deliberately differs, the `call` shows how the expected value is formed:
- `bce_dice` with C > 1: binary cross-entropy per channel plus MONAI's sigmoid Dice (MONAI's
  `DiceCELoss(sigmoid=True)` switches to softmax cross-entropy);
- `generalized_dice` in float64: MONAI rounds the class weights to float32; the cases use class
  volumes whose weights float32 holds exactly, and one case with a tolerance for the rounding.

Run: python tools/reference/generate.py segmentation
"""

import json
import warnings

import monai
import numpy as np
import scipy
import segmentation_models_pytorch as smp
import torch
from monai.losses import (DiceCELoss, DiceFocalLoss, DiceLoss, GeneralizedDiceLoss,
                          HausdorffDTLoss, SoftclDiceLoss, TverskyLoss,
                          GeneralizedWassersteinDiceLoss)
from scipy.ndimage import distance_transform_edt as eucl_distance
from segmentation_models_pytorch.losses import LovaszLoss, lovasz as smp_lovasz

from common import OUT_DIR, REDUCE, ROOT, Family, enc, f32, rng

warnings.filterwarnings("ignore", category=UserWarning)

MONAI = f"monai {monai.__version__} (torch {torch.__version__})"
SMP = (f"segmentation_models_pytorch {smp.__version__} (torch {torch.__version__}); "
       "_lovasz_grad keeps the input's dtype, torch.sort stable")
KERVADEC = (f"LIVIAETS/boundary-loss one_hot2dist with scipy {scipy.__version__} "
            f"distance_transform_edt (torch {torch.__version__})")


def _lovasz_grad(gt_sorted):
    """smp's `_lovasz_grad`, keeping a floating input's dtype (smp: `.float()`)."""
    g = gt_sorted if gt_sorted.is_floating_point() else gt_sorted.float()
    p = len(g)
    gts = g.sum()
    intersection = gts - g.cumsum(0)
    union = gts + (1 - g).cumsum(0)
    jaccard = 1.0 - intersection / union
    if p > 1:
        jaccard[1:p] = jaccard[1:p] - jaccard[0:-1]
    return jaccard


smp_lovasz._lovasz_grad = _lovasz_grad
_sort = torch.sort


def _stable_sort(input, dim=-1, descending=False):
    return _sort(input, stable=True, dim=dim, descending=descending)


torch.sort = _stable_sort


def one_hot2dist(seg, resolution=None, dtype=None):
    """LIVIAETS/boundary-loss `utils.one_hot2dist`, for one sample `[K, *spatial]`."""
    K = len(seg)
    res = np.zeros_like(seg, dtype=dtype)
    for k in range(K):
        posmask = seg[k].astype(bool)
        if posmask.any():
            negmask = ~posmask
            res[k] = eucl_distance(negmask, sampling=resolution) * negmask \
                - (eucl_distance(posmask, sampling=resolution) - 1) * posmask
    return res


def dist_maps(target, input):
    """The maps of every sample of a one-hot (or index) target, as a tensor like `input`."""
    t = target.numpy()
    if t.ndim == input.ndim - 1:
        t = np.moveaxis(np.eye(input.shape[1], dtype=np.int64)[t], -1, 1)
    maps = np.stack([one_hot2dist(s, dtype=np.float64) for s in t])
    return torch.tensor(maps, dtype=input.dtype)


fam = Family("segmentation", names={
    "DiceLoss": DiceLoss, "TverskyLoss": TverskyLoss, "GeneralizedDiceLoss": GeneralizedDiceLoss,
    "DiceCELoss": DiceCELoss, "DiceFocalLoss": DiceFocalLoss,
    "HausdorffDTLoss": HausdorffDTLoss, "SoftclDiceLoss": SoftclDiceLoss,
    "GeneralizedWassersteinDiceLoss": GeneralizedWassersteinDiceLoss, "LovaszLoss": LovaszLoss, "dist_maps": dist_maps,
}, tools={"monai": monai.__version__, "segmentation_models_pytorch": smp.__version__,
          "scipy": scipy.__version__})


def logits(r, shape, scale=2.0):
    return f32(r.normal(0.0, scale, size=shape))


def labels(r, shape, c):
    return r.integers(0, c, size=shape).astype(np.int64)


def mask(r, shape, p=0.4):
    return f32((r.uniform(size=shape) < p).astype(np.float64))


def onehot(y, c):
    return f32(np.moveaxis(np.eye(c)[y], -1, 1))


def probs(r, shape):
    p = r.uniform(0.0, 1.0, size=shape)
    return f32(p / p.sum(axis=1, keepdims=True))


# MONAI's reductions: `mean`, `sum`, `none` (values [N, C, 1, ...], flattened).
def monai_case(id, loss, ctor, inputs, params=None, index=False, **kw):
    target = "target.unsqueeze(1)" if index else "target"
    fam.case(id, loss, f"{ctor}(input, {target})", inputs, params=params, tool=MONAI, **kw)


def ctor(name, **kw):
    args = ", ".join(f"{k}={v!r}" for k, v in kw.items())
    return f"{name}({args}{', ' if args else ''}reduction=R)"


# ----------------------------------------------------------------------------------------
# dice
L = "dice"
r = rng("dice/softmax/index/2d")
monai_case("dice/softmax/index/2d", L, ctor("DiceLoss", softmax=True, to_onehot_y=True),
           {"input": logits(r, (2, 3, 4, 5)), "target": labels(r, (2, 4, 5), 3)}, index=True)
r = rng("dice/softmax/onehot/1d")
y = labels(r, (3, 7), 4)
monai_case("dice/softmax/onehot/1d", L, ctor("DiceLoss", softmax=True),
           {"input": logits(r, (3, 4, 7)), "target": onehot(y, 4)})
r = rng("dice/sigmoid/mask/3d")
monai_case("dice/sigmoid/mask/3d", L, ctor("DiceLoss", sigmoid=True),
           {"input": logits(r, (2, 2, 3, 4, 4)), "target": mask(r, (2, 2, 3, 4, 4))},
           params={"activation": "sigmoid"})
r = rng("dice/softmax/no-background/batch/squared")
# A one-hot target: MONAI's `one_hot` of indices is float32, and `squared_pred` takes norms of
# it (square root, then squared), which rounds in float32 also in a float64 pass.
x = logits(r, (3, 3, 5, 4))
monai_case("dice/softmax/no-background/batch/squared", L,
           ctor("DiceLoss", softmax=True, include_background=False,
                batch=True, squared_pred=True),
           {"input": x, "target": onehot(labels(r, (3, 5, 4), 3), 3)},
           params={"include_background": False, "batch": True, "squared": True})
r = rng("dice/none/smoothing")
monai_case("dice/none/smoothing", L, ctor("DiceLoss", smooth_nr=0.0, smooth_dr=1e-3),
           {"input": probs(r, (2, 3, 6)), "target": onehot(labels(r, (2, 6), 3), 3)},
           params={"activation": "none", "smooth_nr": 0.0, "smooth_dr": 1e-3})
monai_case("dice/none/both-empty", L, ctor("DiceLoss"),
           {"input": np.zeros((2, 1, 5)), "target": np.zeros((2, 1, 5))},
           params={"activation": "none"})
monai_case("dice/none/empty-target-full-prediction", L, ctor("DiceLoss"),
           {"input": np.ones((1, 1, 8)), "target": np.zeros((1, 1, 8))},
           params={"activation": "none"})
r = rng("dice/sigmoid/uint8-mask")
monai_case("dice/sigmoid/uint8-mask", L, ctor("DiceLoss", sigmoid=True),
           {"input": logits(r, (2, 1, 3, 3)), "target": mask(r, (2, 1, 3, 3)).astype(np.uint8)},
           params={"activation": "sigmoid"})

# jaccard
L = "jaccard"
r = rng("jaccard/softmax/index")
monai_case("jaccard/softmax/index", L, ctor("DiceLoss", softmax=True, to_onehot_y=True, jaccard=True),
           {"input": logits(r, (2, 3, 4, 4)), "target": labels(r, (2, 4, 4), 3)}, index=True)
r = rng("jaccard/sigmoid/squared/batch")
monai_case("jaccard/sigmoid/squared/batch", L,
           ctor("DiceLoss", sigmoid=True, jaccard=True, squared_pred=True, batch=True),
           {"input": logits(r, (2, 2, 6)), "target": mask(r, (2, 2, 6))},
           params={"activation": "sigmoid", "squared": True, "batch": True})

# tversky
L = "tversky"
r = rng("tversky/softmax/index/no-background")
monai_case("tversky/softmax/index/no-background", L,
           ctor("TverskyLoss", softmax=True, to_onehot_y=True, include_background=False,
                alpha=0.3, beta=0.7),
           {"input": logits(r, (2, 3, 4, 5)), "target": labels(r, (2, 4, 5), 3)}, index=True,
           params={"include_background": False, "alpha": 0.3, "beta": 0.7})
r = rng("tversky/sigmoid/batch/3d")
monai_case("tversky/sigmoid/batch/3d", L,
           ctor("TverskyLoss", sigmoid=True, batch=True, alpha=0.8, beta=0.2, smooth_nr=1e-3),
           {"input": logits(r, (2, 1, 3, 3, 3)), "target": mask(r, (2, 1, 3, 3, 3))},
           params={"activation": "sigmoid", "batch": True, "alpha": 0.8, "beta": 0.2,
                   "smooth_nr": 1e-3})
r = rng("tversky/half-half")
monai_case("tversky/half-half", L, ctor("TverskyLoss", softmax=True, to_onehot_y=True),
           {"input": logits(r, (2, 2, 9)), "target": labels(r, (2, 9), 2)}, index=True)

# focal_tversky: MONAI's per-class Tversky losses, to the power gamma, reduced.
L = "focal_tversky"


def focal(gamma, **kw):
    args = ", ".join(f"{k}={v!r}" for k, v in kw.items())
    return (f"{REDUCE}(TverskyLoss({args}, reduction='none')(input, TARGET).clamp_min(0)"
            f" ** {gamma!r})")


r = rng("focal_tversky/softmax/index")
fam.case("focal_tversky/softmax/index", L,
         focal(0.75, softmax=True, to_onehot_y=True, alpha=0.3, beta=0.7).replace(
             "TARGET", "target.unsqueeze(1)"),
         {"input": logits(r, (2, 3, 4, 4)), "target": labels(r, (2, 4, 4), 3)},
         params={"alpha": 0.3, "beta": 0.7}, tool=MONAI)
r = rng("focal_tversky/sigmoid/gamma=2/batch")
fam.case("focal_tversky/sigmoid/gamma=2/batch", L,
         focal(2.0, sigmoid=True, batch=True).replace("TARGET", "target"),
         {"input": logits(r, (2, 2, 7)), "target": mask(r, (2, 2, 7))},
         params={"activation": "sigmoid", "gamma": 2.0, "batch": True}, tool=MONAI)

# generalized_dice: index targets with power-of-two class volumes (exact float32 weights).
L = "generalized_dice"


def volumes(r, counts, s):
    """Class indices of `len(counts)` samples with the given class counts, shuffled."""
    rows = []
    for cs in counts:
        row = np.concatenate([np.full(k, c) for c, k in enumerate(cs)])
        assert len(row) == s
        rows.append(r.permutation(row))
    return np.stack(rows).astype(np.int64)


r = rng("generalized_dice/softmax/absent-class")
y = volumes(r, [(8, 4, 4), (8, 8, 0)], 16).reshape(2, 4, 4)
monai_case("generalized_dice/softmax/absent-class", L,
           ctor("GeneralizedDiceLoss", softmax=True, to_onehot_y=True),
           {"input": logits(r, (2, 3, 4, 4)), "target": y}, index=True)
r = rng("generalized_dice/softmax/batch")
y = volumes(r, [(8, 4, 4), (8, 4, 4)], 16).reshape(2, 16)
monai_case("generalized_dice/softmax/batch", L,
           ctor("GeneralizedDiceLoss", softmax=True, to_onehot_y=True, batch=True),
           {"input": logits(r, (2, 3, 16)), "target": y}, index=True, params={"batch": True})
r = rng("generalized_dice/softmax/batch/absent")
y = volumes(r, [(8, 8, 0), (8, 8, 0)], 16).reshape(2, 16)
monai_case("generalized_dice/softmax/batch/absent", L,
           ctor("GeneralizedDiceLoss", softmax=True, to_onehot_y=True, batch=True,
                include_background=False),
           {"input": logits(r, (2, 3, 16)), "target": y}, index=True,
           params={"batch": True, "include_background": False})
monai_case("generalized_dice/none/all-absent", L, ctor("GeneralizedDiceLoss"),
           {"input": f32(rng("gd/all-absent").uniform(size=(2, 2, 4))), "target": np.zeros((2, 2, 4))},
           params={"activation": "none"})
r = rng("generalized_dice/sigmoid/any-volumes")
monai_case("generalized_dice/sigmoid/any-volumes", L, ctor("GeneralizedDiceLoss", sigmoid=True),
           {"input": logits(r, (2, 3, 5, 5)), "target": mask(r, (2, 3, 5, 5))},
           params={"activation": "sigmoid"},
           tolerance={"f64": {"rel": 1e9, "abs": 1e9},
                      "why": "MONAI rounds the class weights to float32 (`ground_o.float()`) "
                             "in float64 too; losskit keeps them in f64"})

# bce_dice
L = "bce_dice"
MS = ("mean", "sum")
r = rng("bce_dice/one-channel")
monai_case("bce_dice/one-channel", L, ctor("DiceCELoss", sigmoid=True),
           {"input": logits(r, (2, 1, 4, 5)), "target": mask(r, (2, 1, 4, 5))}, reductions=MS)
r = rng("bce_dice/one-channel/lambdas/batch")
monai_case("bce_dice/one-channel/lambdas/batch", L,
           ctor("DiceCELoss", sigmoid=True, lambda_ce=0.5, lambda_dice=2.0, batch=True),
           {"input": logits(r, (3, 1, 6)), "target": mask(r, (3, 1, 6))}, reductions=MS,
           params={"bce_weight": 0.5, "dice_weight": 2.0, "batch": True})
r = rng("bce_dice/multi-label")
fam.case("bce_dice/multi-label", L,
         "torch.nn.functional.binary_cross_entropy_with_logits(input, target, reduction=R)"
         " + DiceLoss(sigmoid=True, reduction=R)(input, target)",
         {"input": logits(r, (2, 3, 4, 4)), "target": mask(r, (2, 3, 4, 4))}, reductions=MS,
         tool=MONAI)
# `none`: [N, C'] ([C'] with batch), dice_weight·dice + bce_weight·(each sample's mean BCE; the
# batch's with batch), from MONAI's per-(sample, class) Dice and torch's per-element BCE.
BCE = "torch.nn.functional.binary_cross_entropy_with_logits(input, target, reduction='none')"
r = rng("bce_dice/none/multi-label")
fam.case("bce_dice/none/multi-label", L,
         f"2.0 * DiceLoss(sigmoid=True, reduction='none')(input, target).flatten(1)"
         f" + 0.5 * {BCE}.flatten(1).mean(1, keepdim=True)",
         {"input": logits(r, (3, 2, 4, 3)), "target": mask(r, (3, 2, 4, 3))},
         reductions=("none",), params={"bce_weight": 0.5, "dice_weight": 2.0}, tool=MONAI)
r = rng("bce_dice/none/batch")
fam.case("bce_dice/none/batch", L,
         f"DiceLoss(sigmoid=True, batch=True, reduction='none')(input, target).flatten()"
         f" + {BCE}.mean()",
         {"input": logits(r, (3, 2, 5)), "target": mask(r, (3, 2, 5))},
         reductions=("none",), params={"batch": True}, tool=MONAI)

# ce_dice
L = "ce_dice"
r = rng("ce_dice/index")
monai_case("ce_dice/index", L, ctor("DiceCELoss", softmax=True, to_onehot_y=True),
           {"input": logits(r, (2, 3, 4, 5)), "target": labels(r, (2, 4, 5), 3)}, index=True,
           reductions=MS)
r = rng("ce_dice/index/no-background/3d")
monai_case("ce_dice/index/no-background/3d", L,
           ctor("DiceCELoss", softmax=True, to_onehot_y=True, include_background=False,
                lambda_ce=0.3, lambda_dice=1.5),
           {"input": logits(r, (2, 3, 2, 3, 4)), "target": labels(r, (2, 2, 3, 4), 3)},
           index=True, reductions=MS,
           params={"include_background": False, "ce_weight": 0.3, "dice_weight": 1.5})
r = rng("ce_dice/onehot")
monai_case("ce_dice/onehot", L, ctor("DiceCELoss", softmax=True),
           {"input": logits(r, (2, 4, 6)), "target": onehot(labels(r, (2, 6), 4), 4)},
           reductions=MS)
# `none`: as bce_dice's, with each sample's mean cross-entropy over its positions.
CE = "torch.nn.functional.cross_entropy(input, target, reduction='none')"
r = rng("ce_dice/none/index/no-background")
fam.case("ce_dice/none/index/no-background", L,
         "1.5 * DiceLoss(softmax=True, to_onehot_y=True, include_background=False,"
         f" reduction='none')(input, target.unsqueeze(1)).flatten(1)"
         f" + 0.3 * {CE}.flatten(1).mean(1, keepdim=True)",
         {"input": logits(r, (2, 3, 4, 5)), "target": labels(r, (2, 4, 5), 3)},
         reductions=("none",),
         params={"include_background": False, "ce_weight": 0.3, "dice_weight": 1.5}, tool=MONAI)
r = rng("ce_dice/none/onehot/batch")
fam.case("ce_dice/none/onehot/batch", L,
         f"DiceLoss(softmax=True, batch=True, reduction='none')(input, target).flatten()"
         f" + {CE}.mean()",
         {"input": logits(r, (3, 4, 6)), "target": onehot(labels(r, (3, 6), 4), 4)},
         reductions=("none",), params={"batch": True}, tool=MONAI)

# dice_focal: MONAI's DiceFocalLoss, `mean` only. MONAI 1.6.1's focal term is sigmoid
# (FocalLoss(use_softmax=False)) whatever the Dice activation, over the kept channels.
L = "dice_focal"
FOCAL_F32 = {"f64": {"rel": 1e9, "abs": 1e9},
             "why": "MONAI's FocalLoss casts input and target to float32 (`input.float()`) "
                    "in a float64 pass too; losskit keeps the focal term in f64"}
r = rng("dice_focal/softmax/index/2d")
monai_case("dice_focal/softmax/index/2d", L,
           ctor("DiceFocalLoss", softmax=True, to_onehot_y=True),
           {"input": logits(r, (2, 3, 4, 5)), "target": labels(r, (2, 4, 5), 3)}, index=True,
           reductions=("mean",), tolerance=FOCAL_F32)
r = rng("dice_focal/sigmoid/mask/3d/gamma/lambdas")
monai_case("dice_focal/sigmoid/mask/3d/gamma/lambdas", L,
           ctor("DiceFocalLoss", sigmoid=True, gamma=1.5, lambda_dice=0.7, lambda_focal=1.3),
           {"input": logits(r, (2, 2, 3, 3, 4)), "target": mask(r, (2, 2, 3, 3, 4))},
           reductions=("mean",), tolerance=FOCAL_F32,
           params={"activation": "sigmoid", "gamma": 1.5, "lambda_dice": 0.7,
                   "lambda_focal": 1.3})
r = rng("dice_focal/softmax/onehot/no-background/batch/squared")
monai_case("dice_focal/softmax/onehot/no-background/batch/squared", L,
           ctor("DiceFocalLoss", softmax=True, include_background=False, batch=True,
                squared_pred=True, gamma=0.0),
           {"input": logits(r, (3, 3, 6)), "target": onehot(labels(r, (3, 6), 3), 3)},
           reductions=("mean",), tolerance=FOCAL_F32,
           params={"include_background": False, "batch": True, "squared": True, "gamma": 0.0})
r = rng("dice_focal/sigmoid/one-channel/saturated")
x = logits(r, (2, 1, 8), scale=12.0)
monai_case("dice_focal/sigmoid/one-channel/saturated", L,
           ctor("DiceFocalLoss", sigmoid=True, gamma=3.0),
           {"input": x, "target": mask(r, (2, 1, 8))}, reductions=("mean",), tolerance=FOCAL_F32,
           params={"activation": "sigmoid", "gamma": 3.0})

# hausdorff_dt: MONAI's HausdorffDTLoss (its maps from scipy's exact EDT, under no_grad).
L = "hausdorff_dt"
DT_F32 = {"f64": {"rel": 1e9, "abs": 1e9},
          "why": "MONAI rounds the distance maps to float32 (`.float()`) in a float64 pass too; "
                 "losskit keeps them exact in f64"}
r = rng("hausdorff_dt/softmax/index/2d")
monai_case("hausdorff_dt/softmax/index/2d", L,
           ctor("HausdorffDTLoss", softmax=True, to_onehot_y=True),
           {"input": logits(r, (2, 3, 6, 7)), "target": labels(r, (2, 6, 7), 3)}, index=True,
           tolerance=DT_F32)
r = rng("hausdorff_dt/sigmoid/mask/3d/alpha/background")
monai_case("hausdorff_dt/sigmoid/mask/3d/alpha/background", L,
           ctor("HausdorffDTLoss", sigmoid=True, alpha=1.5, include_background=True),
           {"input": logits(r, (2, 2, 4, 5, 3)), "target": mask(r, (2, 2, 4, 5, 3))},
           params={"activation": "sigmoid", "alpha": 1.5, "include_background": True},
           tolerance=DT_F32)
r = rng("hausdorff_dt/softmax/onehot/batch")
monai_case("hausdorff_dt/softmax/onehot/batch", L,
           ctor("HausdorffDTLoss", softmax=True, batch=True),
           {"input": logits(r, (3, 3, 5, 6)), "target": onehot(labels(r, (3, 5, 6), 3), 3)},
           params={"batch": True}, tolerance=DT_F32)
# Probabilities; sample 0's class 1 is absent from the target and sample 1's class 1 fills it
# (both maps of the target are 0 there).
r = rng("hausdorff_dt/none/empty-and-full")
y = labels(r, (2, 4, 6), 2)
y[0] = 0
y[1] = 1
monai_case("hausdorff_dt/none/empty-and-full", L, ctor("HausdorffDTLoss"),
           {"input": probs(r, (2, 2, 4, 6)), "target": onehot(y, 2)},
           params={"activation": "none"}, tolerance=DT_F32)

# soft_cldice: MONAI's SoftclDiceLoss on probabilities; gradients by its autograd, through
# max_pool (first maximum of the window wins) and torch.min (ties split evenly).
L = "soft_cldice"
r = rng("soft_cldice/2d/onehot")
monai_case("soft_cldice/2d/onehot", L, ctor("SoftclDiceLoss"),
           {"input": probs(r, (2, 3, 8, 9)), "target": onehot(labels(r, (2, 8, 9), 3), 3)})
r = rng("soft_cldice/3d/index")
monai_case("soft_cldice/3d/index", L, ctor("SoftclDiceLoss", to_onehot_y=True),
           {"input": probs(r, (2, 2, 4, 5, 6)), "target": labels(r, (2, 4, 5, 6), 2)},
           index=True)
# Probabilities on a grid of five levels: ties in every pooling window.
r = rng("soft_cldice/2d/ties")
q = np.round(r.uniform(size=(2, 2, 7, 7)) * 4) / 4
monai_case("soft_cldice/2d/ties", L, ctor("SoftclDiceLoss"),
           {"input": q, "target": onehot(labels(r, (2, 7, 7), 2), 2)})
r = rng("soft_cldice/3d/ties/iterations/smooth")
q = np.round(r.uniform(size=(1, 2, 5, 4, 6)) * 2) / 2
monai_case("soft_cldice/3d/ties/iterations/smooth", L,
           ctor("SoftclDiceLoss", iter_=1, smooth_nr=0.5, smooth_dr=0.5),
           {"input": q, "target": onehot(labels(r, (1, 5, 4, 6), 2), 2)},
           params={"iterations": 1, "smooth": 0.5})
r = rng("soft_cldice/2d/thin-line/iterations=5")
g = np.zeros((1, 1, 9, 9))
g[0, 0, :, 4] = 1
g[0, 0, 4, :] = 1
monai_case("soft_cldice/2d/thin-line/iterations=5", L, ctor("SoftclDiceLoss", iter_=5),
           {"input": f32(np.clip(g * 0.8 + r.uniform(0, 0.3, size=g.shape), 0, 1)),
            "target": g}, params={"iterations": 5})

# generalized_wasserstein_dice: MONAI's loss built in the call from the `dist_matrix` input.
L = "generalized_wasserstein_dice"
M3 = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.5], [1.0, 0.5, 0.0]])
GWD = "GeneralizedWassersteinDiceLoss(dist_matrix=dist_matrix, {}reduction=R)(input, target)"
r = rng("gwd/default/2d")
fam.case("generalized_wasserstein_dice/default/2d", L, GWD.format(""),
         {"input": logits(r, (2, 3, 4, 5)), "target": labels(r, (2, 4, 5), 3), "dist_matrix": M3},
         tool=MONAI)
r = rng("gwd/default/3d/unnormalised")
fam.case("generalized_wasserstein_dice/default/3d/unnormalised", L, GWD.format(""),
         {"input": logits(r, (2, 3, 2, 3, 4)), "target": labels(r, (2, 2, 3, 4), 3),
          "dist_matrix": M3 * 4.0}, tool=MONAI)
r = rng("gwd/gdl/1d/4-classes")
M4 = np.array([[0.0, 1.0, 2.0, 3.0], [1.0, 0.0, 1.0, 2.0], [2.0, 1.0, 0.0, 1.0],
               [3.0, 2.0, 1.0, 0.0]]) / 3.0
fam.case("generalized_wasserstein_dice/gdl/1d/4-classes", L,
         GWD.format("weighting_mode='GDL', "),
         {"input": logits(r, (3, 4, 7)), "target": labels(r, (3, 7), 4), "dist_matrix": f32(M4)},
         params={"weighting_mode": "GDL"}, tool=MONAI,
         tolerance={"f64": {"rel": 1e9, "abs": 1e9},
                    "why": "MONAI's class weights are float32 (`torch.ones(...).float()`) in a "
                           "float64 pass too; losskit keeps them in f64"})

# boundary: Kervadec's maps; `none` gives the per-(sample, class) means.
L = "boundary"


def boundary(act, keep):
    return f"{REDUCE}(({act} * dist_maps(target, input))[:, {keep}:].flatten(2).mean(2))"


r = rng("boundary/softmax/index/2d")
fam.case("boundary/softmax/index/2d", L, boundary("torch.softmax(input, 1)", 1),
         {"input": logits(r, (2, 3, 6, 7)), "target": labels(r, (2, 6, 7), 3)}, tool=KERVADEC)
r = rng("boundary/sigmoid/mask/3d")
fam.case("boundary/sigmoid/mask/3d", L, boundary("torch.sigmoid(input)", 0),
         {"input": logits(r, (2, 1, 4, 5, 3)), "target": mask(r, (2, 1, 4, 5, 3))},
         params={"activation": "sigmoid", "include_background": True}, tool=KERVADEC)
r = rng("boundary/softmax/onehot/1d/background")
fam.case("boundary/softmax/onehot/1d/background", L, boundary("torch.softmax(input, 1)", 0),
         {"input": logits(r, (2, 2, 12)), "target": onehot(labels(r, (2, 12), 2), 2)},
         params={"include_background": True}, tool=KERVADEC)
r = rng("boundary/precomputed")
x = logits(r, (2, 3, 5, 5))
y = labels(r, (2, 5, 5), 3)
d = f32(dist_maps(torch.from_numpy(y), torch.zeros(2, 3, 5, 5, dtype=torch.float64)).numpy())
fam.case("boundary/precomputed", L,
         f"{REDUCE}((torch.softmax(input, 1) * distance)[:, 1:].flatten(2).mean(2))",
         {"input": x, "distance": d}, tool=KERVADEC)

# lovasz
L = "lovasz_hinge"
r = rng("lovasz_hinge/batch")
fam.case("lovasz_hinge/batch", L, "LovaszLoss('binary')(input, target)",
         {"input": logits(r, (2, 1, 5, 6)), "target": mask(r, (2, 1, 5, 6))},
         reductions=("mean",), tool=SMP)
r = rng("lovasz_hinge/per-image")
fam.case("lovasz_hinge/per-image", L, "LovaszLoss('binary', per_image=True)(input, target)",
         {"input": logits(r, (3, 1, 4, 4)), "target": mask(r, (3, 1, 4, 4))},
         reductions=("mean",), params={"per_image": True}, tool=SMP)
r = rng("lovasz_hinge/per-image/none")
fam.case("lovasz_hinge/per-image/none", L,
         f"{REDUCE}(torch.stack([LovaszLoss('binary')(input[i:i + 1], target[i:i + 1])"
         " for i in range(input.shape[0])]))",
         {"input": logits(r, (3, 1, 7)), "target": mask(r, (3, 1, 7))},
         params={"per_image": True}, tool=SMP)
fam.case("lovasz_hinge/ties", L, "LovaszLoss('binary')(input, target)",
         {"input": np.zeros((1, 1, 3, 4)), "target": mask(rng("lh/ties"), (1, 1, 3, 4))},
         reductions=("mean",), tool=SMP)
L = "lovasz_softmax"
r = rng("lovasz_softmax/batch")
fam.case("lovasz_softmax/batch", L, "LovaszLoss('multiclass')(input, target)",
         {"input": logits(r, (2, 4, 5, 5)), "target": labels(r, (2, 5, 5), 3)},
         reductions=("mean",), tool=SMP)
r = rng("lovasz_softmax/per-image/3d")
fam.case("lovasz_softmax/per-image/3d", L,
         "LovaszLoss('multiclass', per_image=True)(input, target)",
         {"input": logits(r, (2, 3, 2, 3, 3)), "target": labels(r, (2, 2, 3, 3), 3)},
         reductions=("mean",), params={"per_image": True}, tool=SMP)
r = rng("lovasz_softmax/onehot")
y = labels(r, (2, 2, 4), 3)
fam.case("lovasz_softmax/onehot", L, "LovaszLoss('multiclass')(input, target.argmax(1))",
         {"input": logits(r, (2, 3, 2, 4)), "target": onehot(y, 3)}, reductions=("mean",),
         tool=SMP)
fam.case("lovasz_softmax/ties", L, "LovaszLoss('multiclass')(input, target)",
         {"input": np.zeros((1, 3, 2, 5)), "target": labels(rng("ls/ties"), (1, 2, 5), 3)},
         reductions=("mean",), tool=SMP)

# ----------------------------------------------------------------------------------------
# Bad input: clear errors (MONAI/smp raise, return nonsense or warn; see each call).
r = rng("errors")
X = logits(r, (2, 3, 4, 5))
Y = labels(r, (2, 4, 5), 3)
fam.error("dice/target-shape", "dice", {"input": X, "target": labels(r, (2, 4), 3)},
          "`target` has shape [2, 4], expected [2, 4, 5]")
fam.error("dice/index-out-of-range", "dice", {"input": X, "target": np.where(Y == 0, 3, Y)},
          "expected a class index in [0, C)")
fam.error("dice/non-binary-mask", "dice", {"input": X, "target": f32(onehot(Y, 3) * 0.5)},
          "expected 0 or 1 (a one-hot or multi-label mask)")
fam.error("dice/softmax-one-class", "dice",
          {"input": logits(r, (2, 1, 4)), "target": mask(r, (2, 1, 4))},
          "at least 2 classes in dimension 1 with `activation=softmax`")
fam.error("dice/rank", "dice", {"input": logits(r, (2, 3)), "target": labels(r, (2,), 3)},
          "`input` has shape [2, 3], expected `[N, C, *spatial]`")
fam.error("jaccard/float-indices", "jaccard", {"input": X, "target": f32(Y)},
          "`target` has dtype float")
fam.error("tversky/alpha-negative", "tversky", {"input": X, "target": Y},
          "`alpha` must be >= 0", params={"alpha": -0.1})
fam.error("focal_tversky/beta-negative", "focal_tversky", {"input": X, "target": Y},
          "`beta` must be >= 0", params={"beta": -1.0})
fam.error("generalized_dice/index-out-of-range", "generalized_dice",
          {"input": X, "target": np.where(Y == 1, -1, Y)}, "expected a class index in [0, C)")
fam.error("bce_dice/target-shape", "bce_dice",
          {"input": logits(r, (2, 1, 4)), "target": mask(r, (2, 1, 5))},
          "`target` has shape [2, 1, 5], expected [2, 1, 4]")
fam.error("ce_dice/one-class", "ce_dice",
          {"input": logits(r, (2, 1, 4)), "target": labels(r, (2, 4), 1)},
          "at least 2 classes in dimension 1")
fam.error("dice_focal/gamma-negative", "dice_focal", {"input": X, "target": Y},
          "`gamma` must be >= 0", params={"gamma": -0.5})
fam.error("hausdorff_dt/alpha-negative", "hausdorff_dt", {"input": X, "target": Y},
          "`alpha` must be >= 0", params={"alpha": -1.0})
r1 = rng("soft_cldice/1d")
fam.error("soft_cldice/1d", "soft_cldice",
          {"input": probs(r1, (2, 2, 6)), "target": onehot(labels(r1, (2, 6), 2), 2)},
          "2 or 3 spatial dimensions")
fam.error("generalized_wasserstein_dice/dist-matrix-shape", "generalized_wasserstein_dice",
          {"input": X, "target": Y, "dist_matrix": np.ones((2, 2))},
          "`dist_matrix` has shape [2, 2], expected [3, 3]")
fam.error("boundary/distance-shape", "boundary",
          {"input": X, "distance": f32(np.zeros((2, 3, 4, 4)))},
          "`distance` has shape [2, 3, 4, 4], expected [2, 3, 4, 5]")
fam.error("boundary/no-target", "boundary", {"input": X}, "missing required input `target`")
fam.error("lovasz_hinge/two-channels", "lovasz_hinge",
          {"input": logits(r, (2, 2, 4)), "target": mask(r, (2, 2, 4))},
          "expected `[N, 1, *spatial]`")
fam.error("lovasz_softmax/index-out-of-range", "lovasz_softmax",
          {"input": X, "target": np.where(Y == 2, 7, Y)}, "expected a class index in [0, C)")
fam.write()


# ----------------------------------------------------------------------------------------
# The distance transform against scipy, bit for bit.
def edt_cases():
    cases = []
    for i, (shape, p, spacing) in enumerate([
        ((37,), 0.3, None), ((37,), 0.9, (0.7,)),
        ((24, 31), 0.2, None), ((24, 31), 0.7, None), ((24, 31), 0.95, (0.5, 1.25)),
        ((9, 11, 13), 0.5, None), ((9, 11, 13), 0.85, (2.0, 0.8, 1.5)),
        ((1, 16), 0.5, None), ((5, 1, 6), 0.6, (1.0, 3.0, 0.25)),
        ((6, 7), 1.0, None), ((4, 3, 5), 1.0, (0.5, 2.0, 1.0)), ((8,), 0.0, None),
    ]):
        r = rng(f"edt/{i}")
        m = r.uniform(size=shape) < p
        d = eucl_distance(m, sampling=spacing)
        s = one_hot2dist(m[None].astype(np.int64), resolution=spacing, dtype=np.float64)[0]
        cases.append({
            "id": f"edt/{'x'.join(map(str, shape))}/p={p}/spacing={spacing}",
            "call": f"scipy.ndimage.distance_transform_edt(mask, sampling={spacing!r}); "
                    "signed: one_hot2dist",
            "shape": list(shape), "spacing": list(spacing) if spacing else None,
            "mask": m.astype(int).ravel().tolist(),
            "edt": [enc(v) for v in d.ravel()], "signed": [enc(v) for v in s.ravel()],
        })
    path = OUT_DIR / "distance" / "edt.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    head = json.dumps({"generator": "tools/reference/segmentation.py",
                       "tools": {"scipy": scipy.__version__, "numpy": np.__version__}})[:-1]
    lines = ",\n".join("    " + json.dumps(c) for c in cases)
    path.write_text(f'{head}, "cases": [\n{lines}\n]}}\n')
    print(f"{path.relative_to(ROOT)}: {len(cases)} cases")


edt_cases()
