//! The detection family's catalogue entries.

use crate::catalogue::{
    Family, InputKind, InputSpec, Kinks, LossInfo, NanRule, ParamKind, ParamSpec, Plot, PlotAxis,
    Range, Role, STANDARD_REDUCTIONS,
};
use crate::error::{Error, Result};
use crate::eval::{dispatch, Call, Kept, Out, Vjp};
use crate::evaluator;
use crate::real::Real;
use crate::sample::{Rng, Sample};

use super::kernel::{self, Terms};
use super::{BoxFormat, BoxInputs, Ciou, Diou, Eiou, Giou, Iou};

const BOXES: &[InputSpec] = &[
    InputSpec {
        name: "input",
        role: Role::Prediction,
        kind: InputKind::Float,
        required: true,
        shape: "[N, 4]: predicted boxes in `format`",
    },
    InputSpec {
        name: "target",
        role: Role::Target,
        kind: InputKind::Float,
        required: true,
        shape: "same as `input`: the matched ground-truth boxes",
    },
];

const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "eps",
        kind: ParamKind::Float {
            default: 1e-7,
            range: Range::NON_NEGATIVE,
        },
        doc: "added to each denominator (union, enclosing area or diagonal), as torchvision",
    },
    ParamSpec {
        name: "format",
        kind: ParamKind::Choice {
            default: "xyxy",
            options: &["xyxy", "xywh", "cxcywh"],
        },
        doc: "box layout of both arrays, as torchvision's box_convert: corners (x1, y1, x2, y2), corner and size (x, y, w, h), or centre and size (cx, cy, w, h); gradients are in this format",
    },
];

const INVERTED: &str = "an inverted box (x2 < x1 or y2 < y1, or a negative width or height) is an error naming the row; torchvision silently returns a number for it";
const DEFAULT_REDUCTION: &str =
    "the default reduction is mean; torchvision's box losses default to 'none'";
const FORMAT: &str = "boxes from COCO annotations are xywh and DETR/YOLO heads predict cxcywh: pass `format` rather than converting, and the gradient comes back in that format";
const PAIRING: &str = "in a detector, apply it to the positive anchors only and divide the sum by the number of positive anchors, next to a focal loss on every anchor's class logits (see `losskit explain focal`)";

fn evaluate<T: Real, K: Terms>(loss: &K, call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    let word = call.params.word("format");
    let format = BoxFormat::from_name(word).ok_or(Error::ParamParse {
        loss: K::NAME,
        param: "format",
        value: word.to_owned(),
        expected: "`xyxy`, `xywh` or `cxcywh`",
    })?;
    let inputs = BoxInputs::new(call.float_req("input")?, call.float_req("target")?).format(format);
    let shape = kernel::loss_shape(K::NAME, &inputs)?;
    dispatch(
        call,
        out,
        &shape,
        Vjp::Separable(Kept::ROWS), // one loss per box `[N, 4]`
        |r| kernel::value(loss, &inputs, r),
        |r, g| kernel::value_and_grad(loss, &inputs, r, g),
        |o| kernel::per_element(loss, &inputs, o),
    )
}

fn eval_iou<T: Real>(c: &Call<'_, T>, o: &mut Out<T>) -> Result<()> {
    evaluate(&Iou::new(c.params.float("eps"))?, c, o)
}
fn eval_giou<T: Real>(c: &Call<'_, T>, o: &mut Out<T>) -> Result<()> {
    evaluate(&Giou::new(c.params.float("eps"))?, c, o)
}
fn eval_diou<T: Real>(c: &Call<'_, T>, o: &mut Out<T>) -> Result<()> {
    evaluate(&Diou::new(c.params.float("eps"))?, c, o)
}
fn eval_ciou<T: Real>(c: &Call<'_, T>, o: &mut Out<T>) -> Result<()> {
    evaluate(&Ciou::new(c.params.float("eps"))?, c, o)
}
fn eval_eiou<T: Real>(c: &Call<'_, T>, o: &mut Out<T>) -> Result<()> {
    evaluate(&Eiou::new(c.params.float("eps"))?, c, o)
}

/// `size / 4` pairs of xyxy boxes: targets with corners in [0, 10) and sides 2 to 10, and
/// predictions shifted by up to 0.3 of each side and scaled by 0.6 to 1.5 (most overlap,
/// some do not). Sides comparable to the coordinates keep `gradcheck`'s steps (relative to
/// the coordinates) small next to every box.
pub(crate) fn sample_boxes(size: usize, rng: &mut Rng) -> Sample {
    let n = (size / 4).max(1);
    let (mut p, mut t) = (Vec::with_capacity(4 * n), Vec::with_capacity(4 * n));
    for _ in 0..n {
        let (x, y) = (rng.uniform(0.0, 10.0), rng.uniform(0.0, 10.0));
        let (w, h) = (rng.uniform(2.0, 10.0), rng.uniform(2.0, 10.0));
        t.extend([x, y, x + w, y + h]);
        let (dx, dy) = (rng.uniform(-0.3, 0.3) * w, rng.uniform(-0.3, 0.3) * h);
        let (sw, sh) = (rng.uniform(0.6, 1.5), rng.uniform(0.6, 1.5));
        p.extend([x + dx, y + dy, x + dx + sw * w, y + dy + sh * h]);
    }
    Sample::new()
        .float("input", &[n, 4], p)
        .float("target", &[n, 4], t)
}

pub(crate) const CATALOGUE: &[LossInfo] = &[
    LossInfo {
        name: "iou",
        family: Family::Detection,
        summary: "1 − intersection over union of each predicted box with its target box",
        inputs: BOXES,
        params: PARAMS,
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = 1 − I/(U + eps), I the intersection area, U = A_pred + A_target − I the union",
        gradient: "∂ℓ/∂I = −(1 + IoU)/(U + eps) through the overlap's edges, ∂ℓ/∂A_pred = IoU/(U + eps) through the predicted box's own edges; 0 when the boxes do not overlap; ties of max/min split in half (torch autograd)",
        when_to_use: "box regression when predictions start overlapping their targets (refinement stages, anchors matched by IoU); scale-invariant, unlike smooth_l1 on coordinates",
        pitfalls: &[
            "no gradient once the boxes are apart: the loss is 1 whatever the distance; use giou, diou, ciou or eiou when predictions can start far away",
            INVERTED,
            FORMAT,
            PAIRING,
        ],
        reference: "Yu et al., \"UnitBox\", 2016; formula, checked against torch float64 autograd",
        eval: evaluator!(eval_iou),
        sample: sample_boxes,
        plot: Some(BOX_PLOT),
        kinks: Kinks::Described("where boxes start or stop overlapping, or their edges cross"),
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
    LossInfo {
        name: "giou",
        family: Family::Detection,
        summary: "generalized IoU loss: 1 − IoU plus the empty share of the enclosing box, so boxes apart still get a gradient",
        inputs: BOXES,
        params: PARAMS,
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = 1 − (I/(U + eps) − (C − U)/(C + eps)), C = c_w·c_h the area of the smallest box enclosing both",
        gradient: "as iou, plus ∂ℓ/∂C = (1 − r)/(C + eps) and ∂ℓ/∂U −= 1/(C + eps), r = (C − U)/(C + eps); C moves only the outermost edges",
        when_to_use: "the default box regression loss of DETR-style and one-stage detectors: boxes apart are pulled together, and the value lies in [0, 2)",
        pitfalls: &[
            "when one box contains the other, the enclosing term is 0 and giou reduces to iou: the centre is not pulled in; diou fixes that",
            INVERTED,
            FORMAT,
            PAIRING,
            DEFAULT_REDUCTION,
        ],
        reference: "Rezatofighi et al., \"Generalized Intersection over Union\", CVPR 2019; torchvision.ops.generalized_box_iou_loss",
        eval: evaluator!(eval_giou),
        sample: sample_boxes,
        plot: Some(BOX_PLOT),
        kinks: Kinks::Described("where boxes start or stop overlapping, or their edges cross"),
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
    LossInfo {
        name: "diou",
        family: Family::Detection,
        summary: "distance IoU loss: 1 − IoU plus the squared centre distance over the squared diagonal of the enclosing box",
        inputs: BOXES,
        params: PARAMS,
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = 1 − I/(U + eps) + ρ²/(c_w² + c_h² + eps), ρ the distance between the centres, c_w, c_h the enclosing box's width and height",
        gradient: "as iou, plus 2Δx/(c² + eps) on the centre (half on each edge) and −2c_w·ρ²/(c² + eps)² on the enclosing box's outer edges (likewise in y)",
        when_to_use: "box regression where the centres should converge fast, including a box inside the other (where giou stalls); also the NMS criterion of DIoU-NMS",
        pitfalls: &[
            "the aspect ratio is not matched: two boxes with the same centre and area but different shapes only see the IoU term; ciou or eiou add it",
            INVERTED,
            FORMAT,
            PAIRING,
            DEFAULT_REDUCTION,
        ],
        reference: "Zheng et al., \"Distance-IoU Loss\", AAAI 2020; torchvision.ops.distance_box_iou_loss",
        eval: evaluator!(eval_diou),
        sample: sample_boxes,
        plot: Some(BOX_PLOT),
        kinks: Kinks::Described("where boxes start or stop overlapping, or their edges cross"),
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
    LossInfo {
        name: "ciou",
        family: Family::Detection,
        summary: "complete IoU loss: diou plus an aspect-ratio term weighted by a constant α",
        inputs: BOXES,
        params: PARAMS,
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = diou + α·v, v = 4/π²·(atan(w_g/h_g) − atan(w/h))², α = v/(1 − IoU + v + eps)",
        gradient: "as diou, plus α·∂v/∂(w, h) with α held constant (torchvision computes it under no_grad): ∂v/∂w = −8/π²·Δθ·h/(w² + h²), ∂v/∂h = 8/π²·Δθ·w/(w² + h²)",
        when_to_use: "YOLO-style box regression where the shape matters as well as overlap and position",
        pitfalls: &[
            "v depends only on the aspect ratio: a box of the right shape but twice the size sees no shape gradient; eiou penalises width and height directly",
            "torchvision gives NaN gradients for zero-width or zero-height boxes and a NaN loss for a point box (atan(0/0)); here they are finite (atan2 form of the angle difference)",
            "torchvision's complete_box_iou_loss uses its eps only in α (the DIoU part always uses 1e-7); here eps is used everywhere, which agrees at the default",
            INVERTED,
            FORMAT,
            PAIRING,
            DEFAULT_REDUCTION,
        ],
        reference: "Zheng et al., \"Distance-IoU Loss\", AAAI 2020 (CIoU); torchvision.ops.complete_box_iou_loss",
        eval: evaluator!(eval_ciou),
        sample: sample_boxes,
        plot: Some(BOX_PLOT),
        kinks: Kinks::Described("where boxes start or stop overlapping, or their edges cross"),
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
    LossInfo {
        name: "eiou",
        family: Family::Detection,
        summary: "efficient IoU loss: diou plus the width and height differences over the enclosing box's width and height",
        inputs: BOXES,
        params: PARAMS,
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = 1 − IoU + ρ²/(c_w² + c_h² + eps) + (w − w_g)²/(c_w² + eps) + (h − h_g)²/(c_h² + eps)",
        gradient: "as diou, plus 2(w − w_g)/(c_w² + eps) on the width (∓ on the left and right edges) and −2c_w(w − w_g)²/(c_w² + eps)² on the enclosing width; likewise in y",
        when_to_use: "box regression where width and height should converge directly (small objects, elongated boxes), the EIoU term of Focal-EIoU",
        pitfalls: &[
            "this is the EIoU term alone; the paper's Focal-EIoU multiplies it by IoU^γ, which is not applied here",
            INVERTED,
            FORMAT,
            PAIRING,
        ],
        reference: "Zhang et al., \"Focal and Efficient IOU Loss for Accurate Bounding Box Regression\", Neurocomputing 2022; formula, checked against torch float64 autograd",
        eval: evaluator!(eval_eiou),
        sample: sample_boxes,
        plot: Some(BOX_PLOT),
        kinks: Kinks::Described("where boxes start or stop overlapping, or their edges cross"),
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
];

/// A unit box shifted by x box widths from its target.
const BOX_PLOT: Plot = Plot {
    axis: PlotAxis::BOX_OFFSET,
    at: |x| {
        Sample::new()
            .float("input", &[1, 4], vec![x, 0.0, x + 1.0, 1.0])
            .float("target", &[1, 4], vec![0.0, 0.0, 1.0, 1.0])
    },
};
