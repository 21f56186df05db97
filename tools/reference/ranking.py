"""Reference cases of the ranking losses (`tests/reference/ranking.json`).

Expected numbers come from the reference library itself where one exists, in float32 and
float64:
- `listnet`: optax `ranking_softmax_loss` (jax, x64 enabled so the f64 pass is float64) given
  `softmax(target)` over each list's unmasked items as its labels and the mask as `where`;
  `reduce_fn` is `jnp.mean` / `jnp.sum` / `None` for mean / sum / none. The gradient is jax's
  (`jax.vjp`), bridged into torch's autograd by `jaxfn` below (the call names it);
- `listmle`: no library ships Xia et al.'s loss with a mask, so it is the paper's formula
  written in float64 torch (`listmle` below: a stable descending sort of each list's relevance,
  ties in list order, then Σ_i logsumexp(s_π(i..n)) − s_π(i)), its gradient by autograd;
- `bpr`: torch `-F.logsigmoid(positive - negative)`.

Run: python tools/reference/generate.py ranking
"""

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
import torch  # noqa: E402

from common import REDUCE, Family, f32, rng  # noqa: E402

OPTAX_TOOL = f"optax {optax.__version__} (jax {jax.__version__})"


class _Jax(torch.autograd.Function):
    """A jax function of its first argument as a torch op: value by jax, backward by `jax.vjp`."""

    @staticmethod
    def forward(ctx, fn, x, *rest):
        out, vjp = jax.vjp(lambda a: fn(a, *[jnp.asarray(r.numpy()) for r in rest]), jnp.asarray(x.detach().numpy()))
        ctx.vjp, ctx.dtype = vjp, x.dtype
        return torch.from_numpy(np.array(out)).to(x.dtype)

    @staticmethod
    def backward(ctx, g):
        (gx,) = ctx.vjp(jnp.asarray(g.numpy()))
        return (None, torch.from_numpy(np.array(gx)).to(ctx.dtype), *[None] * 8)


def jaxfn(fn, x, *rest):
    """`fn(x, *rest)` computed by jax, differentiable in `x` through torch's autograd."""
    return _Jax.apply(fn, x, *rest)


RED = {"mean": jnp.mean, "sum": jnp.sum, "none": None}


def listmle(s, t, mask, R):
    """Xia et al. 2008, per list: the unmasked items sorted by decreasing relevance (stable: ties
    keep the list's order), loss Σ_i (log Σ_{k≥i} exp s_π(k) − s_π(i)). Float64 torch."""
    n, l = s.shape
    mask = torch.ones(n, l, dtype=torch.bool) if mask is None else mask
    losses = []
    for i in range(n):
        idx = torch.nonzero(mask[i]).flatten()
        if len(idx) == 0:
            losses.append(s.new_zeros(()))
            continue
        order = idx[torch.sort(t[i, idx], descending=True, stable=True).indices]
        x = s[i, order]
        suffix = torch.logcumsumexp(x.flip(0), 0).flip(0)
        losses.append((suffix - x).sum())
    per = torch.stack(losses)
    valid = mask.any(dim=1)
    if R == "none":
        return per
    if R == "sum":
        return per.sum()
    return per.sum() / valid.sum() if valid.any() else per.sum() * 0.0


fam = Family("ranking", tools={"optax": optax.__version__, "jax": jax.__version__},
             names={"jaxfn": jaxfn, "jax": jax, "jnp": jnp, "optax": optax, "RED": RED, "listmle": listmle})


def lists(r, n, l, scale=1.0, graded=True):
    s = f32(r.normal(0.0, scale, size=(n, l)))
    t = f32(r.integers(0, 5, size=(n, l))) if graded else f32(r.normal(0.0, 1.0, size=(n, l)))
    return s, t


def ragged(r, n, l, empty_row=None):
    """Each list keeps a random prefix of at least 1 item (one row none, if asked)."""
    m = np.zeros((n, l), dtype=bool)
    for i in range(n):
        m[i, : r.integers(1, l + 1)] = True
    if empty_row is not None:
        m[empty_row] = False
    return m


# ----------------------------------------------------------------------------------------
# listnet: optax ranking_softmax_loss with labels softmax(target) over the unmasked items.
LISTNET = ("jaxfn(lambda s, t: optax.losses.ranking_softmax_loss(s, jax.nn.softmax(t, axis=-1), "
           "reduce_fn=RED[R]), input, target)")
LISTNET_MASKED = ("jaxfn(lambda s, t, w: optax.losses.ranking_softmax_loss(s, jnp.where(w, "
                  "jax.nn.softmax(jnp.where(w, t, -jnp.inf), axis=-1), 0.0), where=w, reduce_fn=RED[R]), "
                  "input, target, mask)")
for name, n, l, scale, graded, masked in [
    ("graded", 5, 6, 1.0, True, False),
    ("real-relevance", 4, 7, 1.0, False, False),
    ("wide-scores", 3, 5, 40.0, True, False),
    ("masked/one-empty", 5, 6, 1.0, True, True),
]:
    r = rng(f"listnet/{name}")
    s, t = lists(r, n, l, scale, graded)
    inputs = {"input": s, "target": t}
    if masked:
        inputs["mask"] = ragged(r, n, l, empty_row=2)
    fam.case(f"listnet/{name}", "listnet", LISTNET_MASKED if masked else LISTNET, inputs, tool=OPTAX_TOOL)

r = rng("listnet/errors")
s, t = lists(r, 2, 3)
fam.error("listnet/mask=2", "listnet", {"input": s, "target": t, "mask": np.array([[1, 1, 0], [1, 2, 1]], dtype=np.int64)},
          "`mask` at [1, 1] is 2, expected 0 or 1")
fam.error("listnet/shape", "listnet", {"input": s, "target": t[:, :2]},
          "`target` has shape [2, 2], expected [2, 3]")

# ----------------------------------------------------------------------------------------
# listmle: Xia et al.'s formula in float64 torch.
LISTMLE = "listmle(input.double(), target.double(), None, R)"
LISTMLE_MASKED = "listmle(input.double(), target.double(), mask, R)"
for name, n, l, scale, graded, masked in [
    ("graded-ties", 5, 6, 1.0, True, False),
    ("real-relevance", 4, 7, 1.0, False, False),
    ("wide-scores", 3, 5, 40.0, False, False),
    ("masked/one-empty", 5, 6, 1.0, True, True),
]:
    r = rng(f"listmle/{name}")
    s, t = lists(r, n, l, scale, graded)
    inputs = {"input": s, "target": t}
    if masked:
        inputs["mask"] = ragged(r, n, l, empty_row=1)
    tol = None
    if scale > 1.0:
        # Scores ±40: the winner's terms are e^{-40}-small; torch's logcumsumexp backward rounds
        # the exact integers 1, 2, 3 to 1 + 8e-15 (about 10ε); losskit's recurrence gets them exactly.
        tol = {"f64": {"rel": 32.0, "abs": 32.0}, "why": "torch's logcumsumexp backward at scores ±40 is ~10ε off the exact integers"}
    fam.case(f"listmle/{name}", "listmle", LISTMLE_MASKED if masked else LISTMLE, inputs, tolerance=tol)

r = rng("listmle/errors")
s, t = lists(r, 2, 3)
fam.error("listmle/not-lists", "listmle", {"input": s.ravel(), "target": t.ravel()},
          "`input` has shape [6], expected 2 dimensions `[N, L]`")
fam.error("listmle/mask-shape", "listmle", {"input": s, "target": t, "mask": np.ones((2, 2), dtype=bool)},
          "`mask` has shape [2, 2], expected [2, 3]")

# ----------------------------------------------------------------------------------------
# bpr: torch -logsigmoid(positive - negative).
BPR = f"{REDUCE}(-torch.nn.functional.logsigmoid(positive - negative))"
for name, shape, scale in [("pairs", (12,), 1.0), ("users-by-samples", (3, 5), 2.0), ("far", (8,), 60.0)]:
    r = rng(f"bpr/{name}")
    p, q = f32(r.normal(0.0, scale, size=shape)), f32(r.normal(0.0, scale, size=shape))
    fam.case(f"bpr/{name}", "bpr", BPR, {"positive": p, "negative": q}, grads=("positive", "negative"))

r = rng("bpr/errors")
fam.error("bpr/shape", "bpr", {"positive": f32(r.normal(size=4)), "negative": f32(r.normal(size=3))},
          "`negative` has shape [3], expected [4]",
          call="-torch.nn.functional.logsigmoid(positive - negative)", torch_raises="size")

fam.write()
