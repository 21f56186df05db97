//! The usual one-stage detector loss (RetinaNet, FCOS): a focal loss over the class logits of
//! every anchor plus an IoU-family loss over the boxes of the positive anchors, both summed
//! and divided by the number of positive anchors.
//!
//! ```text
//! cargo run --example detector_loss
//! ```

use losskit::{BinaryInputs, BoxFormat, BoxInputs, Focal, Giou, Reduction, Tensor};

fn main() -> Result<(), losskit::Error> {
    let (anchors, classes) = (6usize, 3usize);
    // The head's outputs for one image: class logits [anchors, classes] and one box per
    // anchor, here in (cx, cy, w, h) as DETR/YOLO-style heads predict them.
    let logits: Vec<f32> = (0..anchors * classes)
        .map(|i| ((i * 7) % 5) as f32 - 2.5)
        .collect();
    let boxes: Vec<[f32; 4]> = (0..anchors)
        .map(|a| [10.0 + 8.0 * a as f32, 20.0, 12.0, 9.0 + a as f32])
        .collect();
    // The matcher's result: each anchor's class (None = background) and, for positives, the
    // matched ground-truth box in the same format.
    let matched: [(Option<usize>, [f32; 4]); 6] = [
        (Some(0), [11.0, 21.0, 12.0, 10.0]),
        (None, [0.0; 4]),
        (Some(2), [25.0, 19.0, 14.0, 12.0]),
        (None, [0.0; 4]),
        (Some(1), [52.0, 22.0, 10.0, 12.0]),
        (None, [0.0; 4]),
    ];

    // Classification: focal over every anchor, one-hot labels (a zero row is background).
    let mut labels = vec![0.0f32; anchors * classes];
    for (a, (class, _)) in matched.iter().enumerate() {
        if let Some(c) = class {
            labels[a * classes + c] = 1.0;
        }
    }
    let cls_inputs = BinaryInputs::new(
        Tensor::new(&logits, &[anchors, classes])?,
        Tensor::new(&labels, &[anchors, classes])?,
    );
    let mut g_logits = vec![0.0f32; anchors * classes];
    let cls = Focal::default().value_and_grad(&cls_inputs, Reduction::Sum, &mut g_logits)?;

    // Box regression: GIoU over the positive anchors only, in the head's own format, so the
    // gradient comes back in (cx, cy, w, h) with no conversion step.
    let positives: Vec<usize> = (0..anchors).filter(|&a| matched[a].0.is_some()).collect();
    let pred: Vec<[f32; 4]> = positives.iter().map(|&a| boxes[a]).collect();
    let truth: Vec<[f32; 4]> = positives.iter().map(|&a| matched[a].1).collect();
    let box_inputs = BoxInputs::from_rows(&pred, &truth).format(BoxFormat::Cxcywh);
    let mut g_pos = vec![0.0f32; 4 * positives.len()];
    let reg = Giou::default().value_and_grad(&box_inputs, Reduction::Sum, &mut g_pos)?;

    // Both sums over the number of positive anchors (at least 1, for images without objects).
    let norm = positives.len().max(1) as f32;
    let loss = (cls + reg) / norm;
    g_logits.iter_mut().for_each(|g| *g /= norm);
    let mut g_boxes = vec![[0.0f32; 4]; anchors];
    for (k, &a) in positives.iter().enumerate() {
        for c in 0..4 {
            g_boxes[a][c] = g_pos[4 * k + c] / norm;
        }
    }

    println!("positives: {positives:?}");
    println!("focal (sum) = {cls:.5}, giou (sum) = {reg:.5}, loss = {loss:.5}");
    for (a, g) in g_boxes.iter().enumerate() {
        println!("anchor {a}: ∂loss/∂(cx, cy, w, h) = {g:?}");
    }
    assert!(loss.is_finite() && g_logits.iter().all(|g| g.is_finite()));
    Ok(())
}
