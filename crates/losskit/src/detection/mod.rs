//! Box regression losses: a predicted box against its ground-truth box, one pair per row
//! of `[N, 4]` arrays.
//!
//! The picture of the box losses, their formats, what counts as a bad box and the usual
//! detector loss are in the docs of [`BoxInputs`].

mod catalogue;
mod kernel;

pub(crate) use catalogue::CATALOGUE;

use crate::error::{Error, Result};
use crate::real::Real;
use crate::reduction::Reduction;
use crate::tensor::Tensor;
use kernel::Terms;

/// How the four numbers of a box are laid out, as torchvision's `box_convert` names them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum BoxFormat {
    /// `(x1, y1, x2, y2)`: the top-left and bottom-right corners (torchvision's losses take
    /// only this).
    #[default]
    Xyxy,
    /// `(x, y, w, h)`: the top-left corner, the width and the height (COCO annotations).
    Xywh,
    /// `(cx, cy, w, h)`: the centre, the width and the height (DETR, YOLO outputs).
    Cxcywh,
}

impl BoxFormat {
    /// Every format, in the order of the catalogue's `format` parameter.
    pub const ALL: [BoxFormat; 3] = [BoxFormat::Xyxy, BoxFormat::Xywh, BoxFormat::Cxcywh];

    /// The name: `"xyxy"`, `"xywh"` or `"cxcywh"`.
    pub fn name(self) -> &'static str {
        match self {
            BoxFormat::Xyxy => "xyxy",
            BoxFormat::Xywh => "xywh",
            BoxFormat::Cxcywh => "cxcywh",
        }
    }

    /// The format called `name`, if any.
    pub fn from_name(name: &str) -> Option<BoxFormat> {
        BoxFormat::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// The inputs of a box loss: predicted boxes `input` `[N, 4]`, their targets `target`
/// `[N, 4]` (row i is compared with row i), both in one [`BoxFormat`] (`xyxy` unless set).
///
/// # The picture
/// Put the predicted box and the target box on the image. Their **intersection** is the
/// rectangle they share (empty once they are apart); their **union** is the area either one
/// covers; IoU is the ratio. The **enclosing box** is the smallest axis-aligned rectangle
/// holding both: its width $c_w$ runs from the leftmost left edge to the rightmost right edge,
/// its height $c_h$ from the highest top edge to the lowest bottom edge, and its diagonal is
/// $c = \sqrt{c_w^2 + c_h^2}$. The **centre distance** $\rho$ is the straight segment from the
/// predicted box's centre to the target's.
///
/// - [`Iou`]: 1 − IoU. Once the boxes are apart it is 1 whatever their distance, and its
///   gradient is 0: nothing pulls them together.
/// - [`Giou`]: adds the share of the enclosing box that neither box covers; apart, that
///   empty strip shrinks as the boxes approach, so the gradient moves them together.
/// - [`Diou`]: adds $\rho^2 / c^2$, the centre distance as a fraction of the enclosing
///   diagonal; it pulls the centres straight together, faster than GIoU.
/// - [`Ciou`]: DIoU plus an aspect-ratio term.
/// - [`Eiou`]: DIoU plus the width and height differences, each over the enclosing box's
///   width or height.
///
/// Every loss is 0 for identical boxes of positive area (identical zero-area boxes have
/// IoU = 0/(0 + ε) = 0, as in torchvision, so their loss is 1); IoU's is at most 1, GIoU's
/// below 2, the distance losses' can exceed 2. Each is invariant to translating both
/// boxes, and with `eps = 0` to scaling both (every term is a ratio of areas or lengths).
///
/// # Formats
/// [`BoxFormat`]: `xyxy` (corners, the default), `xywh` (top-left corner, width, height) or
/// `cxcywh` (centre, width, height), converted exactly as torchvision's `box_convert`. The
/// gradient is with respect to the numbers in the format given: the chain rule through the
/// conversion runs inside the fused kernel, no converted copy is made.
///
/// # Bad boxes
/// x2 < x1 or y2 < y1 (in `xyxy`), a negative width or height (in the other formats) or a
/// infinite coordinate is [`Error::InvalidBox`](crate::Error::InvalidBox), naming the
/// argument and the row. (torchvision computes a number for an inverted box: a NaN, or worse
/// a GIoU "bonus" that rewards the inversion.) Zero-width and zero-height boxes are boxes:
/// their values and gradients are finite.
///
/// # The usual detector loss
/// A one-stage detector (RetinaNet, FCOS) sums a focal loss over the class logits of every
/// anchor and an IoU-family loss over the boxes of the positive anchors, and divides both
/// sums by the number of positive anchors (so the loss does not grow with the number of
/// objects in the image):
/// ```
/// use losskit::{BinaryInputs, BoxInputs, Focal, Giou, Reduction, Tensor};
/// // 4 anchors × 2 classes: logits and one-hot labels (a row of zeros is background).
/// let logits = [2.0f32, -1.0, -3.0, -2.5, 0.5, 1.5, -4.0, -3.0];
/// let labels = [1.0f32, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0];
/// // Anchors 0 and 2 are positive: their predicted boxes and matched ground truth (xyxy).
/// let pred = [[10.0f32, 10.0, 50.0, 60.0], [30.0, 5.0, 80.0, 40.0]];
/// let truth = [[12.0f32, 8.0, 48.0, 62.0], [35.0, 10.0, 85.0, 45.0]];
/// let positives = 2.0;
///
/// let classes = BinaryInputs::new(Tensor::new(&logits, &[4, 2])?, Tensor::new(&labels, &[4, 2])?);
/// let mut g_logits = [0.0f32; 8];
/// let cls = Focal::default().value_and_grad(&classes, Reduction::Sum, &mut g_logits)?;
/// let mut g_boxes = [0.0f32; 8];
/// let reg = Giou::default().value_and_grad(&BoxInputs::from_rows(&pred, &truth), Reduction::Sum, &mut g_boxes)?;
///
/// let loss = (cls + reg) / positives;
/// for g in g_logits.iter_mut().chain(g_boxes.iter_mut()) {
///     *g /= positives;
/// }
/// assert!(loss > 0.0 && g_boxes.iter().all(|g| g.is_finite()));
/// # Ok::<(), losskit::Error>(())
/// ```
/// `crates/losskit/examples/detector_loss.rs` runs the same recipe on a generated batch.
///
/// # Building the inputs
/// ```
/// use losskit::{BoxFormat, BoxInputs, Tensor};
/// let pred = [[0.5f32, 0.5, 1.0, 1.0]];
/// let truth = [[0.5f32, 0.5, 2.0, 1.0]];
/// let inputs = BoxInputs::from_rows(&pred, &truth).format(BoxFormat::Cxcywh);
/// assert_eq!(inputs.input().dims(), &[1, 4]);
/// // From flat arrays:
/// let flat = [0.0f64, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0];
/// let inputs = BoxInputs::new(Tensor::new(&flat, &[2, 4])?, Tensor::new(&flat, &[2, 4])?);
/// # let _ = inputs;
/// # Ok::<(), losskit::Error>(())
/// ```
#[derive(Debug)]
pub struct BoxInputs<'a, T> {
    input: Tensor<'a, T>,
    target: Tensor<'a, T>,
    format: BoxFormat,
}

impl<T> Clone for BoxInputs<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for BoxInputs<'_, T> {}

impl<'a, T> BoxInputs<'a, T> {
    /// Predicted and target boxes, `[N, 4]` each (checked by the loss), in `xyxy`.
    pub fn new(input: impl Into<Tensor<'a, T>>, target: impl Into<Tensor<'a, T>>) -> Self {
        BoxInputs {
            input: input.into(),
            target: target.into(),
            format: BoxFormat::Xyxy,
        }
    }

    /// Predicted and target boxes given as rows of four numbers, in `xyxy`.
    ///
    /// A different number of rows is reported by the loss as a shape mismatch.
    pub fn from_rows(input: &'a [[T; 4]], target: &'a [[T; 4]]) -> Self {
        let rows = |b: &'a [[T; 4]]| {
            Tensor::new(b.as_flattened(), &[b.len(), 4])
                .expect("a slice of [T; 4] rows is an [N, 4] tensor")
        };
        BoxInputs::new(rows(input), rows(target))
    }

    /// The format both arrays are in.
    #[must_use]
    pub fn format(mut self, format: BoxFormat) -> Self {
        self.format = format;
        self
    }

    /// The predicted boxes.
    pub fn input(&self) -> Tensor<'a, T> {
        self.input
    }

    /// The target boxes.
    pub fn target(&self) -> Tensor<'a, T> {
        self.target
    }

    /// The box format.
    pub fn box_format(&self) -> BoxFormat {
        self.format
    }
}

/// Generates a box loss type: the struct with its `eps`, `new`, `Default` (torchvision's
/// 1e-7), the kernel's term flags and the typed API.
macro_rules! box_loss {
    ($(#[$doc:meta])* $ty:ident, $name:literal, { $($flag:ident),* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub struct $ty {
            eps: f64,
        }

        /// `eps = 1e-7`, torchvision's default.
        impl Default for $ty {
            fn default() -> Self {
                $ty { eps: 1e-7 }
            }
        }

        impl $ty {
            /// The loss with `eps` added to each denominator.
            ///
            /// # Errors
            /// [`Error::InvalidParam`] unless `eps >= 0` and finite.
            pub fn new(eps: f64) -> Result<Self> {
                if !(eps >= 0.0 && eps.is_finite()) {
                    return Err(Error::InvalidParam {
                        loss: $name,
                        param: "eps",
                        value: eps,
                        expected: ">= 0 and finite",
                    });
                }
                Ok($ty { eps })
            }

            /// The `eps` added to each denominator.
            pub fn eps(&self) -> f64 {
                self.eps
            }

            /// The loss over the N box pairs, reduced with `reduction`.
            ///
            /// # Errors
            /// [`Error::BadShape`] unless `input` is `[N, 4]`; [`Error::ShapeMismatch`] when
            /// `target` differs from it; [`Error::InvalidBox`](crate::Error::InvalidBox) for a
            /// box that is inverted, has a negative side or an infinite coordinate (the
            /// first one, with its argument and row); [`Error::EmptyMean`] for `Mean` over
            /// N = 0.
            pub fn value<T: Real>(&self, inputs: &BoxInputs<'_, T>, reduction: Reduction) -> Result<T> {
                kernel::value(self, inputs, reduction)
            }

            /// The reduced loss and its gradient with respect to `input`, in `input`'s
            /// format, written to `grad` (`4·N` long; the reduction's scale included), in
            /// one pass.
            ///
            /// # Errors
            /// As [`value`](Self::value), and [`Error::BufferLength`] when `grad` is not
            /// `4·N` long. On error `grad` holds unspecified values.
            pub fn value_and_grad<T: Real>(
                &self,
                inputs: &BoxInputs<'_, T>,
                reduction: Reduction,
                grad: &mut [T],
            ) -> Result<T> {
                kernel::value_and_grad(self, inputs, reduction, grad)
            }

            /// The loss of each box pair, written to `out` (`N` long).
            ///
            /// # Errors
            /// As [`value`](Self::value) (except the empty mean), and
            /// [`Error::BufferLength`] when `out` is not `N` long.
            pub fn per_element<T: Real>(&self, inputs: &BoxInputs<'_, T>, out: &mut [T]) -> Result<()> {
                kernel::per_element(self, inputs, out)
            }
        }

        impl Terms for $ty {
            const NAME: &'static str = $name;
            $(const $flag: bool = true;)*
            fn eps(&self) -> f64 {
                self.eps
            }
        }
    };
}

box_loss!(
    /// IoU loss: one minus the intersection over union of each box pair.
    ///
    /// # Definition
    /// With $I$ the intersection area, $U = A_p + A_g - I$ the union (see the
    /// [`BoxInputs`] docs for the picture):
    /// $$\ell_i = 1 - \frac{I}{U + \varepsilon}$$
    ///
    /// # Gradient
    /// $\partial\ell/\partial I = -(1 + \mathrm{IoU})/(U + \varepsilon)$ through the overlap's
    /// sides and $\partial\ell/\partial A_p = \mathrm{IoU}/(U + \varepsilon)$ through the
    /// predicted box's own sides, then through the corners (ties of `max`/`min` split the
    /// gradient in half, as torch autograd) and the format conversion. Boxes that do not
    /// overlap get the gradient 0: use [`Giou`], [`Diou`], [`Ciou`] or [`Eiou`] when
    /// predictions can start far from their targets.
    ///
    /// # Numerical stability
    /// Finite for every valid pair, zero-area boxes included ($\varepsilon > 0$ keeps the
    /// denominator positive; with $\varepsilon = 0$ a 0/0 is taken as 0).
    ///
    /// # Parameters
    /// | name | default | range |
    /// |---|---|---|
    /// | `eps` | 1e-7 | ≥ 0, finite |
    ///
    /// # Errors
    /// See [`Iou::value`].
    ///
    /// # Example
    /// ```
    /// use losskit::{BoxInputs, Iou, Reduction};
    /// let pred = [[0.0f64, 0.0, 2.0, 2.0]];
    /// let truth = [[1.0f64, 0.0, 3.0, 2.0]];
    /// let v = Iou::new(0.0)?.value(&BoxInputs::from_rows(&pred, &truth), Reduction::Mean)?;
    /// assert_eq!(v, 1.0 - 2.0 / 6.0);
    /// # Ok::<(), losskit::Error>(())
    /// ```
    ///
    /// # References
    /// J. Yu et al., "UnitBox: An Advanced Object Detection Network", 2016. Checked against
    /// the formula in torch float64 autograd (torchvision has IoU only as a metric).
    Iou, "iou", {}
);

box_loss!(
    /// Generalized IoU loss: 1 − IoU plus the share of the enclosing box neither box covers.
    ///
    /// # Definition
    /// With $C = c_w c_h$ the enclosing box's area (see the [`BoxInputs`] docs):
    /// $$\ell_i = 1 - \Big(\frac{I}{U + \varepsilon} - \frac{C - U}{C + \varepsilon}\Big)$$
    /// In $[0, 2)$: 0 for identical boxes, towards 2 for small boxes far apart.
    ///
    /// # Gradient
    /// As [`Iou`], plus $\partial\ell/\partial C = (1 - r)/(C + \varepsilon)$ and
    /// $\partial\ell/\partial U \mathrel{+}= -1/(C + \varepsilon)$ with
    /// $r = (C - U)/(C + \varepsilon)$; the enclosing box's sides move only the outermost
    /// edges. Apart, the gradient pulls the facing edges towards each other.
    ///
    /// # Numerical stability
    /// Finite for every valid pair, zero-area boxes included.
    ///
    /// # Parameters
    /// | name | default | range |
    /// |---|---|---|
    /// | `eps` | 1e-7 | ≥ 0, finite |
    ///
    /// # Errors
    /// See [`Giou::value`].
    ///
    /// # Deliberate differences from torchvision
    /// - An inverted box is an error; torchvision computes a loss for it (below 1 − IoU
    ///   when the "enclosing" area goes negative: a bonus for the inversion).
    /// - `Mean` over no boxes is an error; torchvision returns 0. The default reduction is
    ///   `Mean`; torchvision's is `'none'`.
    ///
    /// # Example
    /// ```
    /// use losskit::{BoxInputs, Giou, Reduction};
    /// // Two unit squares one unit apart: IoU 0, enclosing box 3 × 1 of which 1 is empty.
    /// let pred = [[0.0f64, 0.0, 1.0, 1.0]];
    /// let truth = [[2.0f64, 0.0, 3.0, 1.0]];
    /// let mut g = [0.0; 4];
    /// let v = Giou::new(0.0)?.value_and_grad(&BoxInputs::from_rows(&pred, &truth), Reduction::Sum, &mut g)?;
    /// assert!((v - (1.0 + 1.0 / 3.0)).abs() < 1e-15);
    /// assert!(g[2] < 0.0); // moving the right edge towards the target lowers the loss
    /// # Ok::<(), losskit::Error>(())
    /// ```
    ///
    /// # References
    /// H. Rezatofighi et al., "Generalized Intersection over Union", CVPR 2019. torchvision
    /// `torchvision.ops.generalized_box_iou_loss` (the numbers matched).
    Giou, "giou", { ENCLOSING_AREA }
);

box_loss!(
    /// Distance IoU loss: 1 − IoU plus the squared centre distance over the squared
    /// diagonal of the enclosing box.
    ///
    /// # Definition
    /// With $\rho$ the distance between the centres and $c^2 = c_w^2 + c_h^2$ (see the
    /// [`BoxInputs`] docs):
    /// $$\ell_i = 1 - \frac{I}{U + \varepsilon} + \frac{\rho^2}{c^2 + \varepsilon}$$
    ///
    /// # Gradient
    /// As [`Iou`], plus $2\,\Delta x/(c^2 + \varepsilon)$ on each centre coordinate
    /// (half of it on each edge) and $-2 c_w\,\rho^2/(c^2 + \varepsilon)^2$ on the
    /// enclosing box's outer edges (likewise in y).
    ///
    /// # Numerical stability
    /// Finite for every valid pair, zero-area boxes included.
    ///
    /// # Parameters
    /// | name | default | range |
    /// |---|---|---|
    /// | `eps` | 1e-7 | ≥ 0, finite |
    ///
    /// # Errors
    /// See [`Diou::value`].
    ///
    /// # Deliberate differences from torchvision
    /// Inverted boxes and `Mean` over no boxes are errors; the default reduction is `Mean`
    /// (torchvision: `'none'`).
    ///
    /// # Example
    /// ```
    /// use losskit::{BoxInputs, Diou, Reduction};
    /// // Same size, centres 2 apart, enclosing box 3 × 1 (c² = 10).
    /// let pred = [[0.0f64, 0.0, 1.0, 1.0]];
    /// let truth = [[2.0f64, 0.0, 3.0, 1.0]];
    /// let v = Diou::new(0.0)?.value(&BoxInputs::from_rows(&pred, &truth), Reduction::Sum)?;
    /// assert!((v - (1.0 + 4.0 / 10.0)).abs() < 1e-15);
    /// # Ok::<(), losskit::Error>(())
    /// ```
    ///
    /// # References
    /// Z. Zheng et al., "Distance-IoU Loss", AAAI 2020. torchvision
    /// `torchvision.ops.distance_box_iou_loss` (the numbers matched).
    Diou, "diou", { CENTRES }
);

box_loss!(
    /// Complete IoU loss: DIoU plus a term that matches the aspect ratios.
    ///
    /// # Definition
    /// $$\ell_i = 1 - \mathrm{IoU} + \frac{\rho^2}{c^2 + \varepsilon} + \alpha v,\qquad
    /// v = \frac{4}{\pi^2}\Big(\arctan\frac{w_g}{h_g} - \arctan\frac{w}{h}\Big)^2,\qquad
    /// \alpha = \frac{v}{1 - \mathrm{IoU} + v + \varepsilon}$$
    /// with IoU $= I/(U + \varepsilon)$ (see [`Diou`] and the [`BoxInputs`] docs).
    ///
    /// # Gradient
    /// As [`Diou`], plus $\alpha\,\partial v/\partial(w, h)$ with α held constant, as
    /// torchvision computes α under `no_grad` (the paper's choice):
    /// $\partial v/\partial w = -\tfrac{8}{\pi^2}\,\Delta\theta\,h/(w^2 + h^2)$,
    /// $\partial v/\partial h = \tfrac{8}{\pi^2}\,\Delta\theta\,w/(w^2 + h^2)$.
    ///
    /// # Numerical stability
    /// The angle difference is one arctangent,
    /// $\operatorname{atan2}(w_g h - w h_g,\ h_g h + w_g w)$, whose second argument is
    /// never negative: a zero-height box (where $w/h$ is infinite) and a point box need no
    /// special case, and the gradient there is finite.
    ///
    /// # Parameters
    /// | name | default | range |
    /// |---|---|---|
    /// | `eps` | 1e-7 | ≥ 0, finite |
    ///
    /// # Errors
    /// See [`Ciou::value`].
    ///
    /// # Deliberate differences from torchvision
    /// - Zero-width or zero-height boxes: torchvision's gradient is NaN (the derivative of
    ///   $\arctan(w/h)$ at $h = 0$ is evaluated as $0\cdot\infty$), and a point box has a NaN
    ///   loss ($0/0$); here both are finite (a point box has angle 0).
    /// - `eps` is used in every denominator. torchvision's `complete_box_iou_loss` passes
    ///   its `eps` to α only and computes the DIoU part with the default 1e-7; the two agree
    ///   at the default.
    /// - Inverted boxes and `Mean` over no boxes are errors; the default reduction is `Mean`.
    ///
    /// # Example
    /// ```
    /// use losskit::{BoxInputs, Ciou, Reduction};
    /// // A zero-height prediction: finite loss and gradient.
    /// let pred = [[0.0f32, 1.0, 2.0, 1.0]];
    /// let truth = [[0.0f32, 0.0, 2.0, 2.0]];
    /// let mut g = [0.0f32; 4];
    /// let v = Ciou::default().value_and_grad(&BoxInputs::from_rows(&pred, &truth), Reduction::Sum, &mut g)?;
    /// assert!(v.is_finite() && g.iter().all(|x| x.is_finite()));
    /// # Ok::<(), losskit::Error>(())
    /// ```
    ///
    /// # References
    /// Z. Zheng et al., "Distance-IoU Loss: Faster and Better Learning for Bounding Box
    /// Regression", AAAI 2020. torchvision `torchvision.ops.complete_box_iou_loss` (the
    /// numbers matched wherever torchvision is finite).
    Ciou, "ciou", { CENTRES, ASPECT }
);

box_loss!(
    /// Efficient IoU loss: DIoU plus the width and height differences, each over the
    /// enclosing box's width or height.
    ///
    /// # Definition
    /// $$\ell_i = 1 - \mathrm{IoU} + \frac{\rho^2}{c_w^2 + c_h^2 + \varepsilon}
    ///  + \frac{(w - w_g)^2}{c_w^2 + \varepsilon} + \frac{(h - h_g)^2}{c_h^2 + \varepsilon}$$
    /// with IoU $= I/(U + \varepsilon)$ (see the [`BoxInputs`] docs).
    ///
    /// # Gradient
    /// As [`Diou`], plus $2(w - w_g)/(c_w^2 + \varepsilon)$ on the width (so $\mp$ on the
    /// left and right edges) and $-2 c_w (w - w_g)^2/(c_w^2 + \varepsilon)^2$ on the
    /// enclosing width (likewise in y). Unlike CIoU's aspect term, the side terms do not
    /// vanish when the aspect ratios agree but the sizes do not.
    ///
    /// # Numerical stability
    /// Finite for every valid pair, zero-area boxes included.
    ///
    /// # Parameters
    /// | name | default | range |
    /// |---|---|---|
    /// | `eps` | 1e-7 | ≥ 0, finite |
    ///
    /// # Errors
    /// See [`Eiou::value`].
    ///
    /// # Example
    /// ```
    /// use losskit::{BoxInputs, Eiou, Reduction};
    /// // Same centre, the prediction half as wide: ρ = 0, c_w = 2, c_h = 1.
    /// let pred = [[0.5f64, 0.0, 1.5, 1.0]];
    /// let truth = [[0.0f64, 0.0, 2.0, 1.0]];
    /// let v = Eiou::new(0.0)?.value(&BoxInputs::from_rows(&pred, &truth), Reduction::Sum)?;
    /// assert!((v - (0.5 + 1.0 / 4.0)).abs() < 1e-15);
    /// # Ok::<(), losskit::Error>(())
    /// ```
    ///
    /// # References
    /// Y.-F. Zhang et al., "Focal and Efficient IOU Loss for Accurate Bounding Box
    /// Regression", Neurocomputing 2022 (the EIoU term, without the focal weighting).
    /// Checked against the formula in torch float64 autograd.
    Eiou, "eiou", { CENTRES, SIDES }
);
