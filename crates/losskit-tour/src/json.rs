//! The `--json` rendering: experiments, their metrics (with ranges), rows and verdicts.

use serde_json::{json, Map, Value};

use crate::{Better, Tour};

/// A bound as JSON: a number, or `null` for an unbounded side.
fn bound(v: f64) -> Value {
    if v.is_finite() {
        json!(v)
    } else {
        Value::Null
    }
}

/// The whole tour as one JSON value.
pub fn render(tour: &Tour) -> Value {
    let experiments: Vec<Value> = tour
        .experiments
        .iter()
        .map(|e| {
            let metrics: Vec<Value> = e
                .metrics
                .iter()
                .map(|m| {
                    let (better, target) = match m.better {
                        Better::Higher => ("higher", Value::Null),
                        Better::Lower => ("lower", Value::Null),
                        Better::Near(t) => ("near", json!(t)),
                    };
                    json!({"key": m.key, "label": m.label, "min": bound(m.range.0), "max": bound(m.range.1),
                           "better": better, "target": target})
                })
                .collect();
            let rows: Vec<Value> = e
                .rows
                .iter()
                .map(|r| {
                    let values: Map<String, Value> = e
                        .metrics
                        .iter()
                        .zip(&r.values)
                        .map(|(m, &v)| (m.key.to_owned(), if v.is_finite() { json!(v) } else { Value::Null }))
                        .collect();
                    json!({"label": r.label, "losses": r.losses, "recommended": r.recommended,
                           "optimiser": r.optimiser, "metrics": values})
                })
                .collect();
            json!({"id": e.id, "key": e.key, "title": e.title, "setup": e.setup,
                   "status": if e.unavailable.is_some() { "unavailable" } else { "ok" },
                   "reason": e.unavailable, "metrics": metrics, "rows": rows, "verdict": e.verdict})
        })
        .collect();
    json!({"tool": "losskit tour", "version": env!("CARGO_PKG_VERSION"), "seed": tour.seed,
           "quick": tour.quick, "seconds": tour.seconds, "experiments": experiments})
}
