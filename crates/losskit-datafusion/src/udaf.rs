//! The aggregate UDF of a loss: the mean (or sum) of its per-row values over a group.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Documentation, Signature};
use datafusion::physical_expr::expressions::Literal;

use losskit::FloatArray;

use crate::columns::{run, valid_rows};
use crate::exact::{ExactSum, STATE_BYTES};
use crate::spec::{ArgKind, Binding, LossSpec};

/// A loss as an aggregate function.
#[derive(Debug)]
pub struct LossUdaf {
    spec: Arc<LossSpec>,
    signature: Signature,
    doc: Documentation,
}

impl LossUdaf {
    /// The aggregate of `spec`.
    pub fn new(spec: Arc<LossSpec>) -> Self {
        let doc = spec.documentation(true);
        let signature = spec.signature();
        LossUdaf {
            spec,
            signature,
            doc,
        }
    }
}

impl PartialEq for LossUdaf {
    fn eq(&self, other: &Self) -> bool {
        self.spec.info.name == other.spec.info.name
    }
}
impl Eq for LossUdaf {}
impl Hash for LossUdaf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.spec.info.name.hash(state);
    }
}

impl AggregateUDFImpl for LossUdaf {
    fn name(&self) -> &str {
        self.spec.info.name
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

    fn accumulator(&self, acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let kinds: Vec<ArgKind> = acc_args
            .exprs
            .iter()
            .map(|e| match e.downcast_ref::<Literal>() {
                Some(l) => ArgKind::Literal(l.value().clone()),
                None => ArgKind::Column,
            })
            .collect();
        let binding = self.spec.bind(&kinds, true)?;
        Ok(Box::new(LossAccumulator {
            spec: Arc::clone(&self.spec),
            binding,
            num: ExactSum::new(),
            den: ExactSum::new(),
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format!("{}[exact_sums]", args.name),
            DataType::Binary,
            true,
        ))])
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.doc)
    }
}

/// The exact sums of the losses and of the denominators (weights, or counts).
#[derive(Debug)]
struct LossAccumulator {
    spec: Arc<LossSpec>,
    binding: Binding,
    num: ExactSum,
    den: ExactSum,
}

impl Accumulator for LossAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let (values, _) = valid_rows(&self.binding, values)?;
        let rows = values
            .get(self.binding.inputs.first().map_or(0, |x| x.1))
            .map_or(0, |a| a.len());
        if rows == 0 {
            return Ok(());
        }
        let b = run(&self.spec, &self.binding, &values)?;
        match &b.per_element {
            FloatArray::F64(v) => self.num.add_all(v.iter().copied()),
            FloatArray::F32(v) => self.num.add_all(v.iter().map(|&x| f64::from(x))),
            other => self.num.add_all(other.to_f64()),
        }
        match b.denominators {
            Some(d) => self.den.add_all(d),
            None => self.den.add(b.per_element.len() as f64),
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.den.is_zero() {
            return Ok(ScalarValue::Float64(None));
        }
        let v = if self.binding.sum {
            self.num.value()
        } else {
            self.num.value() / self.den.value()
        };
        Ok(ScalarValue::Float64(Some(v)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let mut bytes = self.num.to_bytes();
        bytes.extend(self.den.to_bytes());
        Ok(vec![ScalarValue::Binary(Some(bytes))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(col) = states.first() else {
            return Ok(());
        };
        let bin = col.as_binary_opt::<i32>().ok_or_else(|| {
            DataFusionError::Internal(format!(
                "loss `{}`: aggregate state is {}, not Binary",
                self.spec.info.name,
                col.data_type()
            ))
        })?;
        for s in bin.iter().flatten() {
            let (n, d) = (
                ExactSum::from_bytes(s.get(..STATE_BYTES).unwrap_or_default()),
                ExactSum::from_bytes(s.get(STATE_BYTES..).unwrap_or_default()),
            );
            let (Some(n), Some(d)) = (n, d) else {
                return Err(DataFusionError::Internal(format!(
                    "loss `{}`: malformed aggregate state of {} bytes",
                    self.spec.info.name,
                    s.len()
                )));
            };
            self.num.merge(&n);
            self.den.merge(&d);
        }
        Ok(())
    }
}
