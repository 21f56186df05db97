//! `losskit explain`: one catalogue entry in full, as plain text.

use losskit::{Curvature, LossInfo, ParamKind, ReductionMode, Role};

use crate::list::{kind, number, role};
use crate::{emit, Failure};

/// Show a loss in full: formula, gradient, inputs, parameters, reductions, when to use it,
/// pitfalls, reference.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The loss, by its catalogue name (`losskit list` shows them).
    #[arg(value_name = "LOSS")]
    pub loss: String,
}

/// Runs `losskit explain`.
pub fn run(args: &Args) -> Result<(), Failure> {
    let info = losskit::find(&args.loss)?;
    emit(&explain(info))
}

fn explain(l: &LossInfo) -> String {
    let mut s = format!("{} ({})\n{}\n", l.name, l.family, l.summary);
    let section = |s: &mut String, title: &str, body: &str| {
        s.push_str(&format!("\n{title}\n{body}"));
    };
    section(&mut s, "Formula", &format!("  {}\n", l.formula));
    section(&mut s, "Gradient", &format!("  {}\n", l.gradient));
    if let Some(h) = &l.hessian {
        let width = Curvature::ALL
            .iter()
            .map(|c| c.name().len())
            .max()
            .unwrap_or(0)
            + 2;
        let mut text = String::new();
        for c in Curvature::ALL {
            text.push_str(&format!("  {:<width$}{}\n", c.name(), h.policy(c)));
        }
        text.push_str(
            "  (value_grad_hess / evaluate_hess; the policy is the `curvature` argument)\n",
        );
        section(&mut s, "Hessian (diagonal, by curvature policy)", &text);
    }

    let width = l.inputs.iter().map(|i| i.name.len()).max().unwrap_or(0) + 2;
    let mut inputs = String::new();
    for i in l.inputs {
        let need = if i.required { "required" } else { "optional" };
        inputs.push_str(&format!(
            "  {:<width$}{}, {}, {need}; shape: {}\n",
            i.name,
            role(i.role),
            kind(i.kind),
            i.shape
        ));
    }
    section(&mut s, "Inputs", &inputs);

    let params = if l.params.is_empty() {
        "  none\n".to_owned()
    } else {
        let width = l.params.iter().map(|p| p.name.len()).max().unwrap_or(0) + 2;
        let mut text = String::new();
        for p in l.params {
            let spec = match p.kind {
                ParamKind::Float { default, range } => {
                    format!("number, default {}, {range}", number(default))
                }
                ParamKind::Int { default, range } => format!("integer, default {default}, {range}"),
                ParamKind::Bool { default } => format!("true or false, default {default}"),
                ParamKind::Choice { default, options } => {
                    format!("one of {}, default {default}", options.join(", "))
                }
                _ => String::new(),
            };
            text.push_str(&format!(
                "  {:<width$}{spec}\n  {:<width$}{}\n",
                p.name, "", p.doc
            ));
        }
        text
    };
    section(&mut s, "Parameters", &params);

    let reductions: Vec<String> = l
        .reductions
        .iter()
        .map(|&r| {
            if r == ReductionMode::default() {
                format!("{r} (default)")
            } else {
                r.to_string()
            }
        })
        .collect();
    section(
        &mut s,
        "Reductions",
        &format!("  {}\n", reductions.join(", ")),
    );
    section(&mut s, "When to use it", &format!("  {}\n", l.when_to_use));
    let pitfalls: String = l.pitfalls.iter().map(|p| format!("  - {p}\n")).collect();
    section(
        &mut s,
        "Pitfalls",
        if pitfalls.is_empty() {
            "  none recorded\n"
        } else {
            &pitfalls
        },
    );
    section(&mut s, "Reference", &format!("  {}\n", l.reference));
    section(&mut s, "Example", &format!("  {}\n", example(l)));
    s
}

/// A `losskit eval` line with the required inputs and the first prediction's gradient.
fn example(l: &LossInfo) -> String {
    let mut cmd = format!("losskit eval {}", l.name);
    for i in l.inputs.iter().filter(|i| i.required) {
        cmd.push_str(&format!(" --input {0}={0}.npy", i.name));
    }
    if let Some(p) = l.inputs.iter().find(|i| i.role == Role::Prediction) {
        cmd.push_str(&format!(" --grad {0}=grad_{0}.npy", p.name));
    }
    cmd
}
