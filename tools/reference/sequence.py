"""Reference cases of the sequence losses (`tests/reference/sequence.json`).

`ctc`: torch `ctc_loss` (CPU) in float32 and float64: its values as they are; its gradient
minus the exp(log_probs) it adds. Torch's ctc backward returns exp(log_probs) − γ on every
frame a sample uses (the gradient on the logits, assuming a log_softmax before it: the
log_softmax backward leaves a gradient that sums to 0 over the classes unchanged), where the
derivative of the loss with respect to `log_probs` is −γ, which losskit returns
(docs/spec/losses.md, Deliberate differences). `ctc_true_grad` below subtracts, with autograd,
a term whose value is exactly 0 and whose gradient is that exp(log_probs), weighted as the
reduction weighs each sample; both conventions give the same gradient once propagated through
a log_softmax (the Python tests check that against torch directly). Infeasible samples without
`zero_infinity` are compared on values only (torch's gradient there is NaN, losskit's 0).

Run: python tools/reference/generate.py sequence
"""

import numpy as np
import torch

from common import Family, f32, rng


def ctc_true_grad(log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity):
    """torch's `ctc_loss`, values unchanged, with the exp(log_probs) of its backward taken out of
    the gradient on the frames each (feasible) sample uses."""
    F = torch.nn.functional
    per = F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=blank, reduction="none",
                     zero_infinity=zero_infinity)
    feasible = torch.isfinite(F.ctc_loss(log_probs.detach(), targets, input_lengths, target_lengths,
                                         blank=blank, reduction="none"))
    t = log_probs.shape[0]
    frames = (torch.arange(t)[:, None] < input_lengths[None, :]) & feasible[None, :]  # [T, N]
    e = log_probs.exp()
    zero = ((e - e.detach()) * frames[:, :, None]).sum(dim=(0, 2))  # value 0, gradient exp(lp)
    per = per - zero
    if reduction == "none":
        return per
    if reduction == "sum":
        return per.sum()
    return (per / target_lengths.clamp(min=1)).mean()


fam = Family("sequence", names={"ctc_true_grad": ctc_true_grad})


def ctc_call(blank=0, zero_infinity=False):
    return f"ctc_true_grad(log_probs, targets, input_lengths, target_lengths, {blank}, R, {zero_infinity})"


def log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def batch(r, t, n, c, s, blank=0, scale=1.5, repeats=True):
    lp = f32(log_softmax(r.normal(0.0, scale, size=(t, n, c))))
    labels = [k for k in range(c) if k != blank]
    tl = r.integers(1, s + 1, size=n)
    targets = np.full((n, s), blank, dtype=np.int64)
    for i in range(n):
        seq = r.choice(labels, size=tl[i])
        if repeats and tl[i] >= 2 and i % 2 == 0:
            seq[1] = seq[0]
        targets[i, : tl[i]] = seq
    need = tl + np.array([np.sum(targets[i, 1 : tl[i]] == targets[i, : tl[i] - 1]) for i in range(n)])
    il = np.array([r.integers(need[i], t + 1) for i in range(n)], dtype=np.int64)
    il[0] = t
    return lp, targets, il, tl.astype(np.int64)


# The reference gradient is torch's exp(log_probs) − γ minus exp(log_probs): a cancellation
# worth a few ε of exp(log_probs) ≤ 1 (losskit computes γ directly, in f64). Over long inputs
# torch's float32 kernel also accumulates α and β (about −700 at T = 200) in float32: its
# occupancies carry ~3e-4 absolute error there; in float64 one ulp of 700 is 1.1e-13.
TOL = {"f32": {"rel": 64.0, "abs": 64.0}, "f64": {"rel": 32.0, "abs": 32.0},
       "why": "torch's gradient minus exp(log_probs) cancels a few ulp of exp(log_probs)"}
TOL_LONG = {"f32": {"rel": 4096.0, "abs": 4096.0}, "f64": {"rel": 1024.0, "abs": 1024.0},
            "why": "T = 200: torch accumulates log-space α, β of about −700 in the pass's type"}


def inputs(lp, targets, il, tl):
    return {"log_probs": lp, "targets": targets, "input_lengths": il, "target_lengths": tl}


for name, t, n, c, s, blank, scale in [
    ("padded", 15, 4, 7, 5, 0, 1.5),
    ("blank=3", 12, 3, 6, 4, 3, 1.0),
    ("peaked", 20, 3, 5, 6, 0, 6.0),
    ("long", 200, 2, 20, 30, 0, 2.0),
]:
    r = rng(f"ctc/{name}")
    params = {"blank": blank} if blank else {}
    fam.case(f"ctc/{name}", "ctc", ctc_call(blank), inputs(*batch(r, t, n, c, s, blank, scale)),
             params=params, grads=("log_probs",), tolerance=TOL_LONG if t > 100 else TOL)

# Concatenated targets: the same batch as 1-D.
r = rng("ctc/concatenated")
lp, targets, il, tl = batch(r, 10, 3, 5, 4)
flat = np.concatenate([targets[i, : tl[i]] for i in range(3)])
fam.case("ctc/concatenated", "ctc", ctc_call(), inputs(lp, flat, il, tl), grads=("log_probs",), tolerance=TOL)

# An empty target (length 0: the all-blank alignment; `mean` divides by 1).
r = rng("ctc/empty-target")
lp, targets, il, tl = batch(r, 8, 3, 4, 3)
tl[1] = 0
targets[1] = 0
fam.case("ctc/empty-target", "ctc", ctc_call(), inputs(lp, targets, il, tl), grads=("log_probs",), tolerance=TOL)

# Infeasible: sample 1 needs 4 frames ("1 1 2": 3 labels + 1 repeat), has 3.
r = rng("ctc/infeasible")
lp, targets, il, tl = batch(r, 6, 3, 4, 3, repeats=False)
targets[1] = [1, 1, 2]
tl[1], il[1] = 3, 3
fam.case("ctc/infeasible/zero_infinity", "ctc", ctc_call(zero_infinity=True), inputs(lp, targets, il, tl),
         params={"zero_infinity": True}, grads=("log_probs",), tolerance=TOL)
fam.case("ctc/infeasible", "ctc", ctc_call(), inputs(lp, targets, il, tl), grads=())

r = rng("ctc/errors")
lp, targets, il, tl = batch(r, 6, 2, 4, 3, repeats=False)
bad = targets.copy()
bad[1, 0] = 0
fam.error("ctc/label=blank", "ctc", inputs(lp, bad, il, tl),
          "`targets` at [1, 0] is 0, expected a class index in [0, C) other than `blank`")
bad = targets.copy()
bad[0, 0] = 4
fam.error("ctc/label>=C", "ctc", inputs(lp, bad, il, tl), "`targets` at [0, 0] is 4, expected a class index in [0, C)")
fam.error("ctc/input_length>T", "ctc", inputs(lp, targets, np.array([7, 6]), tl),
          "`input_lengths` at [0] is 7, expected a length in [0, T]",
          call="torch.nn.functional.ctc_loss(log_probs, targets, input_lengths, target_lengths, reduction=R)",
          torch_raises="input_lengths")
fam.error("ctc/target_length>S", "ctc", inputs(lp, targets, il, np.array([1, 4])),
          "`target_lengths` at [1] is 4, expected a length in [0, S]")
fam.error("ctc/blank>=C", "ctc", inputs(lp, targets, il, tl), "`blank` must be a class index below C",
          params={"blank": 4})
fam.error("ctc/batch-major", "ctc", inputs(lp.transpose(1, 0, 2).copy(), targets, il, tl),
          "`input_lengths` has shape [2], expected [6]")

fam.write()
