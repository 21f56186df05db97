//! The decision guide's answer ([`losskit::guide::recommend`]) in the form the experiments
//! use: which loss, with which parameters and weights, the tour marks as recommended.

use losskit::guide::{recommend, Conditions, Task};

use crate::Error;

/// The guide's primary choice (the first, or the first of the losses an experiment compares).
pub(crate) struct GuideChoice {
    pub loss: &'static str,
    pub params: Vec<(&'static str, String)>,
    pub weights: Option<Vec<f64>>,
    pub label: String,
}

impl GuideChoice {
    /// The parameters as `Loss::new` takes them.
    pub fn params_ref(&self) -> Vec<(&str, &str)> {
        self.params.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }
}

/// Asks the guide about `task` under `conditions`; its first primary choice among `among`
/// (any, when empty: detection answers a class term and a box term).
pub(crate) fn choice(
    task: Task,
    conditions: Conditions,
    among: &[&str],
) -> Result<GuideChoice, Error> {
    let rec = recommend(task, &conditions)?;
    let first = rec
        .primary
        .into_iter()
        .find(|c| among.is_empty() || among.contains(&c.loss))
        .ok_or_else(|| Error(format!("the guide recommends nothing for {task}")))?;
    let params: Vec<String> = first
        .params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let label = if params.is_empty() {
        first.loss.to_owned()
    } else {
        format!("{}, {}", first.loss, params.join(", "))
    };
    Ok(GuideChoice {
        loss: first.loss,
        params: first.params,
        weights: first.weights.map(|(_, w)| w),
        label,
    })
}
