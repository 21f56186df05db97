//! `losskit edt`: the exact Euclidean distance transform of a mask (SciPy's
//! `distance_transform_edt`), or the signed distance map of boundary loss, saved as `.npy`.
//!
//! A printer over [`losskit::distance`]: every number comes from the library unchanged.

use std::path::PathBuf;

use losskit::{distance, FloatArray, Tensor};
use serde_json::json;

use crate::npy::{self, Data, Staged};
use crate::{emit, Failure};

const NAME: &str = "edt";

const LONG_ABOUT: &str = "\
The exact Euclidean distance transform of a mask: every nonzero element gets its distance to \
the nearest zero element, zeros get 0 (scipy.ndimage.distance_transform_edt, the same \
numbers). MASK is a .npy of any dtype eval reads (float32, float64, int32, int64, uint8, \
bool) and any number of dimensions; an element is foreground when it is nonzero.

`--signed` writes instead the signed distance map of boundary loss (Kervadec et al. 2019, \
the reference code's one_hot2dist): the distance to the object outside it, -(distance to the \
background - 1) inside it (0 on the object's boundary), all zeros for an empty mask. Pass \
one mask per class and feed the maps to `losskit eval boundary --input distance=FILE`.

`--spacing` gives the voxel size along each dimension (default 1 everywhere).

stdout: one JSON line, e.g. {\"shape\":[512,512],\"signed\":false,\"spacing\":[1.0,1.0],\"dtype\":\"f64\"}. \
The output is written only when everything succeeded. Errors exit with status 2.";

/// The distance transform of a mask, saved as .npy.
#[derive(Debug, clap::Args)]
#[command(long_about = LONG_ABOUT)]
pub struct Args {
    /// The mask, a .npy file (nonzero = foreground).
    #[arg(value_name = "MASK")]
    pub mask: PathBuf,

    /// Where to write the distances (.npy, the mask's shape).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,

    /// The voxel size along each dimension, comma-separated.
    #[arg(long, value_name = "S,S,...", value_delimiter = ',')]
    pub spacing: Option<Vec<f64>>,

    /// The signed distance map of boundary loss instead of the distance transform.
    #[arg(long)]
    pub signed: bool,

    /// The dtype of the output (SciPy's is float64).
    #[arg(long, value_parser = ["f64", "f32"], default_value = "f64")]
    pub dtype: String,
}

/// Runs `losskit edt`.
pub fn run(args: &Args) -> Result<(), Failure> {
    // The `eval` rule, for every command: an output never replaces an input.
    if npy::same_file(&args.mask, &args.out) {
        return Err(Failure(format!(
            "{NAME}: `--out` would overwrite the mask ({}); write it to another file",
            args.out.display()
        )));
    }
    let arr = npy::read(&args.mask).map_err(|e| {
        Failure(format!(
            "{NAME}: cannot read the mask from {}: {e}",
            args.mask.display()
        ))
    })?;
    let mask: Vec<bool> = match &arr.data {
        Data::F32(v) => v.iter().map(|&x| x != 0.0).collect(),
        Data::F64(v) => v.iter().map(|&x| x != 0.0).collect(),
        Data::I32(v) => v.iter().map(|&x| x != 0).collect(),
        Data::I64(v) => v.iter().map(|&x| x != 0).collect(),
        Data::U8(v) => v.iter().map(|&x| x != 0).collect(),
        Data::Bool(v) => v.clone(),
        Data::F16(v) => v.iter().map(|&x| f32::from(x) != 0.0).collect(),
        Data::BF16(v) => v.iter().map(|&x| f32::from(x) != 0.0).collect(),
    };
    let t = Tensor::new(&mask, &arr.dims)?;
    let spacing = args.spacing.as_deref();
    let d = if args.signed {
        distance::signed_distance(t, spacing)?
    } else {
        distance::edt(t, spacing)?
    };
    let data = if args.dtype == "f32" {
        FloatArray::F32(d.iter().map(|&v| v as f32).collect())
    } else {
        FloatArray::F64(d)
    };
    let fail = |e: std::io::Error| {
        Failure(format!(
            "{NAME}: cannot write the distances to {}: {e}",
            args.out.display()
        ))
    };
    let bytes = npy::encode(&arr.dims, &data).map_err(fail)?;
    let staged = Staged::write(&args.out, &bytes).map_err(fail)?;
    let spacing: Vec<f64> = args
        .spacing
        .clone()
        .unwrap_or_else(|| vec![1.0; arr.dims.len()]);
    let line = json!({
        "shape": arr.dims,
        "signed": args.signed,
        "spacing": spacing,
        "dtype": args.dtype,
    });
    staged.commit().map_err(fail)?;
    emit(&format!("{line}\n"))
}
