"""Reference cases of the metric-learning losses (`tests/reference/metric_learning.json`).

Expected numbers come from the reference library itself where one exists, in float32 and
float64:
- torch `triplet_margin_loss` and `cosine_embedding_loss` (every reduction);
- pytorch-metric-learning: `NTXentLoss` on `cat([z1, z2])` with labels `arange(N)` twice,
  `SupConLoss`, and `TripletMarginLoss(distance=LpDistance(normalize_embeddings=False))` on
  the triplets of `BatchHardMiner(distance=LpDistance(normalize_embeddings=False))`. Their
  `mean` is the library's default reducer (`MeanReducer` for NT-Xent and the triplets,
  `AvgNonZeroReducer` for SupCon); `sum` and `none` come from the same loss with
  `DoNothingReducer` (per anchor, scattered to `[N]` for the mined triplets);
- otherwise the spec's formula in float64 torch autograd, for both passes (`contrastive`,
  `info_nce`, and `nt_xent` at every reduction as a second check of pml's).

Inputs avoid the kinks (zero distances, ties in the mining, hinge exactly at 0), where the
subgradients are chosen by losskit and tested in the unit tests; batches of the batch-hard
cases stay at N ≤ 25 so torch's `cdist` computes the distances directly rather than through
‖a‖² + ‖b‖² − 2a·b.

Run: python tools/reference/generate.py metric_learning
"""

import numpy as np
import pytorch_metric_learning

from common import REDUCE, Family, f32, rng

F = "torch.nn.functional"
PML = "__import__('pytorch_metric_learning', fromlist=['losses', 'miners', 'distances', 'reducers'])"
PML_TOOL = f"pytorch-metric-learning {pytorch_metric_learning.__version__}"

fam = Family("metric_learning", tools={"pytorch-metric-learning": pytorch_metric_learning.__version__})


def emb(r, n, d, scale=1.0):
    return f32(r.normal(0.0, scale, size=(n, d)))


# ----------------------------------------------------------------------------------------
# contrastive: the formula (no library has the spec's form), float64 autograd.
def contrastive_call(margin):
    return (
        f"{REDUCE}((lambda d, y: y * d ** 2 + (1 - y) * torch.clamp({margin!r} - d, min=0) ** 2)"
        "(torch.linalg.vector_norm(x1.double() - x2.double(), dim=1), target.double()))"
    )


for name, n, d, margin, scale in [
    ("basic", 8, 5, 1.0, 0.3),
    ("margin=2.5/wide", 10, 3, 2.5, 1.0),
    ("margin=0", 6, 4, 0.0, 0.5),
]:
    r = rng(f"contrastive/{name}")
    x1, x2 = emb(r, n, d, scale), emb(r, n, d, scale)
    t = f32(r.integers(0, 2, size=n))
    params = {} if margin == 1.0 else {"margin": margin}
    fam.case(f"contrastive/{name}", "contrastive", contrastive_call(margin),
             {"x1": x1, "x2": x2, "target": t}, params=params, grads=("x1", "x2"))

r = rng("contrastive/errors")
x1, x2 = emb(r, 3, 2), emb(r, 3, 2)
fam.error("contrastive/target=2", "contrastive",
          {"x1": x1, "x2": x2, "target": f32([1, 2, 0])}, "expected 0 (dissimilar) or 1 (similar)")
fam.error("contrastive/shape", "contrastive",
          {"x1": x1, "x2": emb(r, 3, 3), "target": f32([1, 0, 0])}, "`x2` has shape [3, 3], expected [3, 2]")
fam.error("contrastive/margin<0", "contrastive", {"x1": x1, "x2": x2, "target": f32([1, 0, 0])},
          "`margin` must be >= 0", params={"margin": -1.0})

# ----------------------------------------------------------------------------------------
# triplet_margin: torch.
for name, n, d, params in [
    ("default", 9, 6, {}),
    ("margin=0.5/p=1", 7, 4, {"margin": 0.5, "p": 1.0}),
    ("p=3", 6, 5, {"p": 3.0}),
    ("swap", 12, 3, {"swap": True}),
    ("eps=0/margin=2", 5, 8, {"eps": 0.0, "margin": 2.0}),
]:
    r = rng(f"triplet_margin/{name}")
    a, p, ng = emb(r, n, d), emb(r, n, d), emb(r, n, d)
    args = ", ".join(f"{k}={v!r}" for k, v in params.items())
    call = f"{F}.triplet_margin_loss(anchor, positive, negative{', ' + args if args else ''}, reduction=R)"
    fam.case(f"triplet_margin/{name}", "triplet_margin", call,
             {"anchor": a, "positive": p, "negative": ng}, params=params,
             grads=("anchor", "positive", "negative"))

r = rng("triplet_margin/errors")
a = emb(r, 2, 3)
fam.error("triplet_margin/p=0", "triplet_margin", {"anchor": a, "positive": a, "negative": a},
          "`p` must be > 0", params={"p": 0.0})
fam.error("triplet_margin/shape", "triplet_margin",
          {"anchor": a, "positive": a, "negative": emb(r, 3, 3)}, "`negative` has shape [3, 3], expected [2, 3]",
          call=f"{F}.triplet_margin_loss(anchor, positive, negative, reduction=R)",
          torch_raises="")

# ----------------------------------------------------------------------------------------
# cosine_embedding: torch.
for name, n, d, margin, zero_row in [
    ("basic", 10, 6, 0.0, False),
    ("margin=0.3", 8, 4, 0.3, False),
    ("margin=-0.4/zero-vector", 6, 3, -0.4, True),
]:
    r = rng(f"cosine_embedding/{name}")
    x1, x2 = emb(r, n, d), emb(r, n, d)
    if zero_row:
        x1[1] = 0.0
    t = f32(np.where(r.integers(0, 2, size=n) == 1, 1.0, -1.0))
    params = {} if margin == 0.0 else {"margin": margin}
    fam.case(f"cosine_embedding/{name}", "cosine_embedding",
             f"{F}.cosine_embedding_loss(x1, x2, target, margin={margin!r}, reduction=R)",
             {"x1": x1, "x2": x2, "target": t}, params=params, grads=("x1", "x2"))

r = rng("cosine_embedding/errors")
x1 = emb(r, 3, 2)
fam.error("cosine_embedding/target=0", "cosine_embedding",
          {"x1": x1, "x2": x1, "target": f32([1, 0, -1])}, "expected -1 or +1")

# ----------------------------------------------------------------------------------------
# nt_xent: pml NTXentLoss (mean; sum and none per anchor through DoNothingReducer), and the
# formula in float64 autograd at every reduction.
NTX_PML = (
    "(lambda l: {{'none': lambda: l, 'sum': lambda: l.sum(), 'mean': lambda: l.mean()}}[R]())"
    "({pml}.losses.NTXentLoss(temperature={t!r}, reducer={pml}.reducers.DoNothingReducer())"
    "(torch.cat([z1, z2]), torch.arange(z1.shape[0]).repeat(2))['loss']['losses'])"
)
NTX_FORMULA = (
    "{reduce}((lambda u, n: (lambda s: torch.logsumexp(s.masked_fill(torch.eye(2 * n, dtype=torch.bool), float('-inf')), dim=1)"
    " - s[torch.arange(2 * n), (torch.arange(2 * n) + n) % (2 * n)])(u @ u.T / {t!r}))"
    "(" + F + ".normalize(torch.cat([z1, z2]).double(), dim=1), z1.shape[0]))"
)
SIMILARITY_WHY = (
    "cosine similarities are block products (matrixmultiply vs the tool's BLAS), summed in "
    "another order, then divided by the temperature, and the loss lse − s cancels: a few ε·√D, "
    "times 1/τ"
)


def tol_for(t):
    """The tolerance of a similarity-softmax case at temperature t (see SIMILARITY_WHY)."""
    k = max(64.0, 8.0 / t)
    return {"f32": {"rel": k, "abs": k}, "f64": {"rel": k, "abs": k}, "why": SIMILARITY_WHY}


for name, n, d, t, noise in [
    ("t=0.5", 6, 8, 0.5, 0.5),
    ("t=0.1", 16, 12, 0.1, 0.3),
    ("t=1/big-batch", 150, 4, 1.0, 1.0),
]:
    r = rng(f"nt_xent/{name}")
    z1 = emb(r, n, d)
    z2 = f32(z1 + noise * r.normal(size=z1.shape))
    params = {} if t == 0.5 else {"temperature": t}
    inputs = {"z1": z1, "z2": z2}
    fam.case(f"nt_xent/{name}/pml", "nt_xent", NTX_PML.format(pml=PML, t=t), inputs, params=params,
             grads=("z1", "z2"), tool=PML_TOOL, tolerance=tol_for(t))
    fam.case(f"nt_xent/{name}/formula", "nt_xent", NTX_FORMULA.format(reduce=REDUCE, t=t), inputs,
             params=params, grads=("z1", "z2"), tolerance=tol_for(t))

r = rng("nt_xent/t=0.01")
z1 = emb(r, 5, 3)
fam.case("nt_xent/t=0.01/formula", "nt_xent", NTX_FORMULA.format(reduce=REDUCE, t=0.01),
         {"z1": z1, "z2": f32(z1 + 0.2 * r.normal(size=z1.shape))}, params={"temperature": 0.01},
         grads=("z1", "z2"), tolerance=tol_for(0.01))

r = rng("nt_xent/errors")
z = emb(r, 1, 4)
fam.error("nt_xent/N=1", "nt_xent", {"z1": z, "z2": z}, "with N = 1 there are no negatives")
fam.error("nt_xent/temperature=0", "nt_xent", {"z1": emb(r, 3, 2), "z2": emb(r, 3, 2)},
          "`temperature` must be > 0", params={"temperature": 0.0})
fam.error("nt_xent/shape", "nt_xent", {"z1": emb(r, 3, 2), "z2": emb(r, 2, 2)}, "`z2` has shape [2, 2], expected [3, 2]")

# ----------------------------------------------------------------------------------------
# info_nce: the formula (cross-entropy of the normalised similarity matrix), float64 autograd.
INFO = (
    "{reduce}((lambda s: {expr})(" + F + ".normalize(query.double(), dim=1) @ "
    + F + ".normalize(key.double(), dim=1).T / {t!r}))"
)
CE = F + ".cross_entropy({m}, torch.arange(s.shape[0]), reduction='none')"
ONE_WAY = CE.format(m="s")
BOTH_WAYS = f"0.5 * ({CE.format(m='s')} + {CE.format(m='s.T')})"

for name, n, d, t, sym, noise in [
    ("default", 12, 8, 0.07, False, 0.3),
    ("symmetric", 10, 6, 0.07, True, 0.3),
    ("t=0.5/symmetric", 7, 3, 0.5, True, 1.0),
    ("t=1e-3", 6, 4, 1e-3, False, 0.05),
    ("t=0.2/big-batch", 140, 5, 0.2, False, 0.5),
]:
    r = rng(f"info_nce/{name}")
    q = emb(r, n, d)
    k = f32(q + noise * r.normal(size=q.shape))
    params = {}
    if t != 0.07:
        params["temperature"] = t
    if sym:
        params["symmetric"] = True
    call = INFO.format(reduce=REDUCE, expr=BOTH_WAYS if sym else ONE_WAY, t=t)
    fam.case(f"info_nce/{name}", "info_nce", call, {"query": q, "key": k}, params=params,
             grads=("query", "key"), tolerance=tol_for(t))

r = rng("info_nce/errors")
q = emb(r, 1, 4)
fam.error("info_nce/N=1", "info_nce", {"query": q, "key": q}, "with N = 1 there are no negatives")
fam.error("info_nce/temperature<0", "info_nce", {"query": emb(r, 2, 2), "key": emb(r, 2, 2)},
          "`temperature` must be > 0", params={"temperature": -0.1})

# ----------------------------------------------------------------------------------------
# batch_hard_triplet: pml TripletMarginLoss on BatchHardMiner's triplets.
BH = (
    "(lambda idx: (lambda l: {{'none': lambda: torch.zeros(embeddings.shape[0], dtype=l.dtype).index_add(0, idx[0], l),"
    " 'sum': lambda: l.sum(), 'mean': lambda: l.mean()}}[R]())"
    "({pml}.losses.TripletMarginLoss(margin={m!r}, smooth_loss={soft}, "
    "distance={pml}.distances.LpDistance(normalize_embeddings=False), reducer={pml}.reducers.DoNothingReducer())"
    "(embeddings, labels, idx)['loss']['losses']))"
    "({pml}.miners.BatchHardMiner(distance={pml}.distances.LpDistance(normalize_embeddings=False))(embeddings, labels))"
)

for name, n, d, classes, params, singles in [
    ("default", 16, 6, 4, {}, 0),
    ("margin=1/singletons", 12, 4, 3, {"margin": 1.0}, 2),
    ("soft", 20, 5, 5, {"soft": True}, 0),
    ("margin=0.05/int32", 24, 8, 6, {"margin": 0.05}, 0),
]:
    r = rng(f"batch_hard_triplet/{name}")
    x = emb(r, n, d)
    y = np.arange(n) % classes
    if singles:
        y[:singles] = 100 + np.arange(singles)  # anchors without a positive
    y = r.permutation(y).astype(np.int32 if "int32" in name else np.int64)
    margin = 0.0 if params.get("soft") else params.get("margin", 0.3)
    fam.case(f"batch_hard_triplet/{name}", "batch_hard_triplet",
             BH.format(pml=PML, m=margin, soft=bool(params.get("soft"))),
             {"embeddings": x, "labels": y}, params=params, grads=("embeddings",), tool=PML_TOOL)

r = rng("batch_hard_triplet/errors")
x = emb(r, 4, 3)
fam.error("batch_hard_triplet/no-positive", "batch_hard_triplet",
          {"embeddings": x, "labels": np.arange(4, dtype=np.int64)},
          "no anchor in the batch has both a positive")
fam.error("batch_hard_triplet/float-labels", "batch_hard_triplet",
          {"embeddings": x, "labels": f32([0, 0, 1, 1])}, "`labels` has dtype float")
fam.error("batch_hard_triplet/labels-length", "batch_hard_triplet",
          {"embeddings": x, "labels": np.array([0, 0, 1], dtype=np.int64)}, "`labels` has shape [3], expected [4]")

# ----------------------------------------------------------------------------------------
# supcon: pml SupConLoss (its AvgNonZeroReducer for mean; DoNothingReducer per anchor).
SC = (
    "(lambda l, m: {{'none': lambda: l, 'sum': lambda: l.sum(), 'mean': lambda: m}}[R]())"
    "({pml}.losses.SupConLoss(temperature={t!r}, reducer={pml}.reducers.DoNothingReducer())(embeddings, labels)['loss']['losses'],"
    " {pml}.losses.SupConLoss(temperature={t!r})(embeddings, labels))"
)

for name, n, d, classes, t, singles in [
    ("default", 16, 8, 4, 0.1, 0),
    ("t=0.5/singletons", 12, 5, 3, 0.5, 3),
    ("t=0.05/big-batch", 160, 6, 20, 0.05, 0),
]:
    r = rng(f"supcon/{name}")
    x = emb(r, n, d)
    y = np.arange(n) % classes
    if singles:
        y[:singles] = 100 + np.arange(singles)
    y = r.permutation(y).astype(np.int64)
    params = {} if t == 0.1 else {"temperature": t}
    fam.case(f"supcon/{name}", "supcon", SC.format(pml=PML, t=t), {"embeddings": x, "labels": y},
             params=params, grads=("embeddings",), tool=PML_TOOL, tolerance=tol_for(t))

r = rng("supcon/errors")
x = emb(r, 3, 2)
fam.error("supcon/no-positive", "supcon", {"embeddings": x, "labels": np.array([0, 1, 2], dtype=np.int64)},
          "no anchor in the batch has a positive")
fam.error("supcon/temperature=0", "supcon", {"embeddings": x, "labels": np.array([0, 0, 2], dtype=np.int64)},
          "`temperature` must be > 0", params={"temperature": 0.0})

# ----------------------------------------------------------------------------------------
# arcface, cosface, subcenter_arcface: pml ArcFaceLoss, CosFaceLoss, SubCenterArcFaceLoss with
# the test's class centres as their `W` (pml's `W` is [D, C·K], the transpose of `weight`),
# through torch.func.functional_call so that the gradient reaches `weight`. `mean` is pml's
# default reducer (MeanReducer); `sum` and `none` come from DoNothingReducer's per-row losses.
HEAD_PML = (
    "(lambda f: {{'none': lambda: f({pml}.reducers.DoNothingReducer())['loss']['losses'],"
    " 'sum': lambda: f({pml}.reducers.DoNothingReducer())['loss']['losses'].sum(),"
    " 'mean': lambda: f(None)}}[R]())"
    "(lambda red: torch.func.functional_call({pml}.losses.{cls}(num_classes={c}, embedding_size={d}{args}, reducer=red),"
    " {{'W': weight.T}}, (embeddings, labels)))"
)
SCALE_WHY = (
    "cosines are block products (matrixmultiply vs the tool's BLAS), summed in another order, "
    "then multiplied by the scale before the softmax: a few ε·√D, times the scale"
)


def head_tol(scale):
    k = max(64.0, 8.0 * scale)
    return {"f32": {"rel": k, "abs": k}, "f64": {"rel": k, "abs": k}, "why": SCALE_WHY}


def centred(r, n, d, c, k=1, noise=0.7, far=0):
    """Embeddings near their class's (sub-)centre; the first `far` rows opposite it."""
    w = emb(r, c * k, d)
    y = r.permutation(np.arange(n) % c).astype(np.int64)
    rows = y * k + r.integers(0, k, size=n)
    e = w[rows] + noise * r.normal(size=(n, d))
    e[:far] = -w[rows[:far]] + 0.05 * r.normal(size=(far, d))
    return f32(e), y, w


for loss, cls, name, n, d, c, k, params, far in [
    ("arcface", "ArcFaceLoss", "default", 10, 8, 5, 1, {}, 0),
    ("arcface", "ArcFaceLoss", "margin=10/scale=8/far-branch", 12, 6, 4, 1, {"margin": 10.0, "scale": 8.0}, 3),
    ("arcface", "ArcFaceLoss", "scale=16/big-batch", 150, 4, 7, 1, {"scale": 16.0}, 2),
    ("cosface", "CosFaceLoss", "default", 10, 8, 5, 1, {}, 0),
    ("cosface", "CosFaceLoss", "margin=0.1/scale=10/big-batch", 130, 5, 6, 1, {"margin": 0.1, "scale": 10.0}, 1),
    ("subcenter_arcface", "SubCenterArcFaceLoss", "default", 12, 6, 4, 3, {}, 0),
    ("subcenter_arcface", "SubCenterArcFaceLoss", "sub_centers=2/scale=16", 20, 5, 3, 2,
     {"sub_centers": 2, "scale": 16.0}, 2),
]:
    r = rng(f"{loss}/{name}")
    x, y, w = centred(r, n, d, c, k, far=far)
    scale = params.get("scale", 64.0)
    args = "".join(f", {kk}={v!r}" for kk, v in params.items())
    fam.case(f"{loss}/{name}", loss, HEAD_PML.format(pml=PML, cls=cls, c=c, d=d, args=args),
             {"embeddings": x, "labels": y, "weight": w}, params=params,
             grads=("embeddings", "weight"), tool=PML_TOOL, tolerance=head_tol(scale))

r = rng("arcface/errors")
x, w = emb(r, 3, 4), emb(r, 5, 4)
fam.error("arcface/label=C", "arcface",
          {"embeddings": x, "labels": np.array([0, 5, 1], dtype=np.int64), "weight": w},
          "`labels` at [1] is 5, expected a class index in [0, C)")
fam.error("arcface/weight-width", "arcface",
          {"embeddings": x, "labels": np.array([0, 1, 1], dtype=np.int64), "weight": emb(r, 5, 3)},
          "`weight` has shape [5, 3], expected [5, 4]")
fam.error("arcface/margin=180", "arcface",
          {"embeddings": x, "labels": np.array([0, 1, 1], dtype=np.int64), "weight": w},
          "`margin` must be in [0, 180) degrees", params={"margin": 180.0})
fam.error("cosface/scale=0", "cosface",
          {"embeddings": x, "labels": np.array([0, 1, 1], dtype=np.int64), "weight": w},
          "`scale` must be > 0", params={"scale": 0.0})
fam.error("subcenter_arcface/rows", "subcenter_arcface",
          {"embeddings": x, "labels": np.array([0, 1, 0], dtype=np.int64), "weight": w},
          "`weight` has shape [5, 4], expected [C·K, D]")

# ----------------------------------------------------------------------------------------
# proxy_anchor, proxy_nca: pml ProxyAnchorLoss (DivisorReducer) and ProxyNCALoss (MeanReducer)
# with the test's proxies as their `proxies` parameter (same [C, D] layout), through
# torch.func.functional_call so that the gradient reaches `proxies`. `mean` only.
PROXY_PML = (
    "torch.func.functional_call({pml}.losses.{cls}(num_classes={c}, embedding_size={d}{args}),"
    " {{'proxies': proxies}}, (embeddings, labels))"
)

for loss, cls, name, n, d, c, used, params in [
    ("proxy_anchor", "ProxyAnchorLoss", "default", 16, 8, 6, 5, {}),
    ("proxy_anchor", "ProxyAnchorLoss", "margin=0.2/alpha=16/big-batch", 140, 5, 9, 9, {"margin": 0.2, "alpha": 16.0}),
    ("proxy_nca", "ProxyNCALoss", "default", 12, 6, 4, 4, {}),
    ("proxy_nca", "ProxyNCALoss", "softmax_scale=8/big-batch", 130, 5, 7, 6, {"softmax_scale": 8.0}),
]:
    r = rng(f"{loss}/{name}")
    x, y, w = centred(r, n, d, used)
    w = np.concatenate([w, emb(r, c - used, d)]) if c > used else w  # proxies without rows
    scale = params.get("alpha", 32.0) if loss == "proxy_anchor" else 4.0 * params.get("softmax_scale", 1.0)
    args = "".join(f", {kk}={v!r}" for kk, v in params.items())
    fam.case(f"{loss}/{name}", loss, PROXY_PML.format(pml=PML, cls=cls, c=c, d=d, args=args),
             {"embeddings": x, "labels": y, "proxies": w}, params=params,
             grads=("embeddings", "proxies"), reductions=("mean",), tool=PML_TOOL,
             tolerance=head_tol(scale))

r = rng("proxy_anchor/errors")
x, w = emb(r, 3, 4), emb(r, 5, 4)
fam.error("proxy_anchor/label<0", "proxy_anchor",
          {"embeddings": x, "labels": np.array([0, -1, 1], dtype=np.int64), "proxies": w},
          "`labels` at [1] is -1, expected a class index in [0, C)")
fam.error("proxy_nca/proxies-width", "proxy_nca",
          {"embeddings": x, "labels": np.array([0, 1, 1], dtype=np.int64), "proxies": emb(r, 5, 3)},
          "`proxies` has shape [5, 3], expected [5, 4]")
fam.error("proxy_nca/softmax_scale=0", "proxy_nca",
          {"embeddings": x, "labels": np.array([0, 1, 1], dtype=np.int64), "proxies": w},
          "`softmax_scale` must be > 0", params={"softmax_scale": 0.0})
# The pair-mining losses: pml with its defaults (all pairs, no miner, the loss's own reducer:
# `mean` is the only reduction).
MINING_WHY = (
    "cosine similarities are block products (matrixmultiply vs the tool's BLAS) summed in "
    "another order, then scaled by the loss's exponent scale (beta, gamma·(1 + m)) inside "
    "log-sum-exps that partly cancel: a few ε·√D times that scale"
)


def mining_tol(scale):
    k = max(64.0, 8.0 * scale)
    return {"f32": {"rel": k, "abs": k}, "f64": {"rel": k, "abs": k}, "why": MINING_WHY}


def labelled(r, n, d, classes, singles=0, scale=1.0):
    x = emb(r, n, d, scale)
    y = np.arange(n) % classes
    if singles:
        y[:singles] = 100 + np.arange(singles)
    return x, r.permutation(y).astype(np.int64)


MS = "{pml}.losses.MultiSimilarityLoss({args})(embeddings, labels)"
for name, n, d, classes, singles, args in [
    ("default", 16, 8, 4, 0, {}),
    ("alpha=1/beta=10/base=0.2/singletons", 12, 5, 3, 3, {"alpha": 1.0, "beta": 10.0, "base": 0.2}),
    ("big-batch", 300, 6, 30, 0, {}),
    ("base=-0.5/near-duplicates", 10, 4, 2, 0, {"base": -0.5}),
]:
    r = rng(f"multi_similarity/{name}")
    x, y = labelled(r, n, d, classes, singles)
    if "near-duplicates" in name:
        x = f32(np.repeat(x[:2], n // 2, axis=0) + 0.05 * r.normal(size=x.shape))
    call = MS.format(pml=PML, args=", ".join(f"{k}={v!r}" for k, v in args.items()))
    fam.case(f"multi_similarity/{name}", "multi_similarity", call, {"embeddings": x, "labels": y},
             params=args, grads=("embeddings",), reductions=("mean",), tool=PML_TOOL,
             tolerance=mining_tol(args.get("beta", 50.0)))

r = rng("multi_similarity/errors")
fam.error("multi_similarity/beta=0", "multi_similarity",
          {"embeddings": emb(r, 3, 2), "labels": np.array([0, 0, 1], dtype=np.int64)},
          "`beta` must be > 0", params={"beta": 0.0})

CIRCLE = "{pml}.losses.CircleLoss({args})(embeddings, labels)"
for name, n, d, classes, singles, args in [
    ("default", 16, 8, 4, 0, {}),
    ("m=0.25/gamma=256/singletons", 12, 5, 3, 3, {"m": 0.25, "gamma": 256.0}),
    ("big-batch", 300, 6, 30, 0, {}),
    ("gamma=4", 10, 4, 2, 0, {"gamma": 4.0}),
]:
    r = rng(f"circle/{name}")
    x, y = labelled(r, n, d, classes, singles)
    call = CIRCLE.format(pml=PML, args=", ".join(f"{k}={v!r}" for k, v in args.items()))
    m = args.get("m", 0.4)
    # Every anchor's softplus argument stays below 20 or far above it (> 40): pml's
    # Softplus(threshold=20) is the identity above 20, losskit's softplus is exact (they differ
    # by ln(1 + e^-x) < 2.1e-9 between 20 and 40; see Deliberate differences).
    tol = mining_tol(args.get("gamma", 80.0) * (1 + m) ** 2)
    fam.case(f"circle/{name}", "circle", call, {"embeddings": x, "labels": y},
             params=args, grads=("embeddings",), reductions=("mean",), tool=PML_TOOL,
             tolerance=tol)

r = rng("circle/errors")
fam.error("circle/no-anchor", "circle",
          {"embeddings": emb(r, 3, 2), "labels": np.array([0, 1, 2], dtype=np.int64)},
          "no anchor in the batch has both a positive")

# pml builds a (positive pairs × negative pairs) mask: batches stay small. The N = 40 case
# goes through torch's `cdist` by ‖a‖² + ‖b‖² − 2a·b (more than 25 rows), the others directly.
LIFTED = "{pml}.losses.LiftedStructureLoss({args})(embeddings, labels)"
for name, n, d, classes, singles, args in [
    ("default", 16, 8, 4, 0, {}),
    ("pos_margin=0.1/neg_margin=0.8/singletons", 12, 5, 3, 3, {"pos_margin": 0.1, "neg_margin": 0.8}),
    ("batch-40", 40, 6, 8, 0, {}),
    ("neg_margin=1.5", 10, 4, 2, 0, {"neg_margin": 1.5}),
]:
    r = rng(f"lifted_structure/{name}")
    x, y = labelled(r, n, d, classes, singles)
    call = LIFTED.format(pml=PML, args=", ".join(f"{k}={v!r}" for k, v in args.items()))
    fam.case(f"lifted_structure/{name}", "lifted_structure", call, {"embeddings": x, "labels": y},
             params=args, grads=("embeddings",), reductions=("mean",), tool=PML_TOOL,
             tolerance=mining_tol(4.0))

r = rng("lifted_structure/errors")
fam.error("lifted_structure/no-positive", "lifted_structure",
          {"embeddings": emb(r, 3, 2), "labels": np.array([0, 1, 2], dtype=np.int64)},
          "no anchor in the batch has a positive")

# npairs: pml NPairsLoss on cat([anchor, positive]) with labels arange(N) twice (its default
# DotProductSimilarity normalises the embeddings: cosine logits, no temperature).
NPAIRS = ("{pml}.losses.NPairsLoss()(torch.cat([anchor, positive]), "
          "torch.arange(anchor.shape[0]).repeat(2))")
for name, n, d, noise in [("default", 8, 6, 0.5), ("far-views", 20, 4, 2.0), ("big-batch", 300, 5, 1.0)]:
    r = rng(f"npairs/{name}")
    a = emb(r, n, d)
    p = f32(a + noise * r.normal(size=a.shape))
    fam.case(f"npairs/{name}", "npairs", NPAIRS.format(pml=PML), {"anchor": a, "positive": p},
             grads=("anchor", "positive"), reductions=("mean",), tool=PML_TOOL,
             tolerance=tol_for(1.0))

r = rng("npairs/errors")
fam.error("npairs/shape", "npairs", {"anchor": emb(r, 3, 2), "positive": emb(r, 2, 2)},
          "`positive` has shape [2, 2], expected [3, 2]")

if __name__ == "__main__":
    fam.write()
