//! The per-row scalar UDF of a loss, `<loss>_loss(...)`.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature,
};

use crate::columns::{broadcast, run, valid_rows};
use crate::spec::{ArgKind, LossSpec};

/// A loss's per-row values as a scalar function.
#[derive(Debug)]
pub struct LossUdf {
    spec: Arc<LossSpec>,
    name: String,
    signature: Signature,
    doc: Documentation,
}

impl LossUdf {
    /// The scalar function of `spec` (one loss value per row: `spec.per_row == 1`).
    pub fn new(spec: Arc<LossSpec>) -> Self {
        let doc = spec.documentation(false);
        let signature = spec.signature();
        LossUdf {
            name: spec.scalar_name(),
            spec,
            signature,
            doc,
        }
    }
}

impl PartialEq for LossUdf {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for LossUdf {}
impl Hash for LossUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for LossUdf {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.spec.check_arity(arg_types.len())?;
        Ok(arg_types.to_vec())
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let kinds: Vec<ArgKind> = args
            .args
            .iter()
            .enumerate()
            .map(|(i, a)| match a {
                ColumnarValue::Scalar(v) if i >= self.spec.required => ArgKind::Literal(v.clone()),
                _ => ArgKind::Column,
            })
            .collect();
        let binding = self.spec.bind(&kinds, false)?;
        let arrays: Vec<ArrayRef> = args
            .args
            .iter()
            .map(|a| broadcast(a, n))
            .collect::<Result<_>>()?;
        let (values, keep) = valid_rows(&binding, &arrays)?;
        let kept = keep.as_ref().map_or(n, |k| k.true_count());
        let per_row: Vec<f64> = if kept == 0 {
            Vec::new()
        } else {
            run(&self.spec, &binding, &values)?.per_element.to_f64()
        };
        let out: Float64Array = match keep {
            None => Float64Array::from(per_row),
            Some(k) => {
                let mut it = per_row.into_iter();
                (0..n)
                    .map(|i| if k.value(i) { it.next() } else { None })
                    .collect()
            }
        };
        if out.len() == 1
            && args
                .args
                .iter()
                .all(|a| matches!(a, ColumnarValue::Scalar(_)))
        {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?));
        }
        Ok(ColumnarValue::Array(Arc::new(out)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.doc)
    }
}
