//! Writes `losses.rs` into OUT_DIR: for every loss of `losskit::catalogue()`, a config struct
//! whose fields are the loss's parameters with the catalogue's defaults, a `forward` taking
//! its inputs, and a function at the defaults.
//!
//! Generated from the catalogue itself (rather than a macro over a hand-kept list with a test
//! that the list matches) so that there is no list to drift: a loss, input or parameter added
//! to the core appears here on the next build, its docs and defaults included. It costs no
//! second build of the core: cargo shares it between the build script and the library.

use std::fmt::Write as _;

use losskit::{Bound, InputKind, ParamKind, Range, Role};

/// The losses people keep as a field of their model: these also get burn-nn's
/// `…LossConfig` name (every loss has the config struct, `init` and the `…Loss` type).
const MODULE_STYLE: &[&str] = &["cross_entropy", "focal", "dice", "bce_with_logits"];

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let mut out = String::new();
    for info in losskit::catalogue() {
        write_loss(&mut out, info).expect("formatting into a String");
    }
    let dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(std::path::Path::new(&dir).join("losses.rs"), out)
        .expect("OUT_DIR is writeable");
}

/// `bce_with_logits` → `BceWithLogits`.
fn camel(name: &str) -> String {
    name.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// A Rust identifier for a catalogue name (raw for keywords).
fn ident(name: &str) -> String {
    const KEYWORDS: &[&str] = &[
        "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn",
        "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
        "return", "self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use",
        "where", "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final",
        "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
    ];
    if KEYWORDS.contains(&name) {
        format!("r#{name}")
    } else {
        name.to_owned()
    }
}

fn range(r: &Range) -> String {
    match (r.lo, r.hi) {
        (Bound::Unbounded, Bound::Unbounded) => "any finite value".to_owned(),
        _ => r.to_string(),
    }
}

/// Catalogue text for markdown: brackets escaped (`[N, C]` is a shape, not a link).
fn esc(text: &str) -> String {
    text.replace('[', "\\[").replace(']', "\\]")
}

/// A doc line as an attribute (any text is a valid string literal through `{:?}`).
fn doc(out: &mut String, indent: &str, text: &str) -> std::fmt::Result {
    writeln!(out, "{indent}#[doc = {text:?}]")
}

fn write_loss(out: &mut String, info: &losskit::LossInfo) -> std::fmt::Result {
    let name = info.name;
    let ty = camel(name);
    let reductions: Vec<&str> = info.reductions.iter().map(|r| r.name()).collect();

    // The config struct.
    doc(out, "", &format!("`{name}`: {}.", esc(info.summary)))?;
    doc(out, "", "")?;
    doc(out, "", &format!("Definition: {}", esc(info.formula)))?;
    doc(out, "", "")?;
    doc(out, "", "| input | role | shape |")?;
    doc(out, "", "|---|---|---|")?;
    for i in info.inputs {
        let role = match (i.role, i.kind) {
            (Role::Prediction, _) => "prediction (differentiable)",
            (_, InputKind::Index) => "class indices (an `Int` tensor)",
            (_, InputKind::FloatOrIndex) => "indices or probabilities",
            (Role::Target, _) => "target",
            _ => "weight",
        };
        let opt = if i.required { "" } else { " (optional)" };
        let shape = esc(i.shape).replace('|', "\\|");
        doc(
            out,
            "",
            &format!("| `{}`{opt} | {role} | {shape} |", i.name),
        )?;
    }
    doc(out, "", "")?;
    if !info.params.is_empty() {
        doc(out, "", "| parameter | default | range | |")?;
        doc(out, "", "|---|---|---|---|")?;
        for p in info.params {
            let (default, r) = match p.kind {
                ParamKind::Float { default, range: r } => (format!("{default:?}"), range(&r)),
                ParamKind::Int { default, range: r } => (default.to_string(), range(&r)),
                ParamKind::Bool { default } => (default.to_string(), "`true`, `false`".into()),
                ParamKind::Choice { default, options } => (
                    format!("`{default:?}`"),
                    options
                        .iter()
                        .map(|o| format!("`{o}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                _ => ("?".into(), "?".into()),
            };
            let d = esc(p.doc).replace('|', "\\|");
            doc(
                out,
                "",
                &format!("| `{}` | {default} | {r} | {d} |", p.name),
            )?;
        }
        doc(out, "", "")?;
    }
    doc(
        out,
        "",
        &format!(
            "Reductions: {} (default `{}`).",
            reductions.join(", "),
            reductions[0]
        ),
    )?;
    doc(out, "", "")?;
    doc(out, "", &format!("Reference: {}.", esc(info.reference)))?;
    writeln!(out, "#[derive(Debug, Clone, PartialEq)]")?;
    writeln!(out, "pub struct {ty} {{")?;
    for p in info.params {
        let t = match p.kind {
            ParamKind::Float { .. } => "f64",
            ParamKind::Int { .. } => "i64",
            ParamKind::Bool { .. } => "bool",
            _ => "&'static str",
        };
        doc(out, "    ", &esc(p.doc))?;
        writeln!(out, "    pub {}: {t},", ident(p.name))?;
    }
    writeln!(out, "    /// The reduction.")?;
    writeln!(out, "    pub reduction: ReductionMode,")?;
    writeln!(out, "    /// The path (fused, composed or automatic).")?;
    writeln!(out, "    pub path: Path,")?;
    writeln!(out, "}}\n")?;

    // Default: the catalogue's.
    writeln!(out, "impl Default for {ty} {{")?;
    doc(
        out,
        "    ",
        "The catalogue's defaults (the reference library's).",
    )?;
    writeln!(out, "    fn default() -> Self {{")?;
    writeln!(out, "        {ty} {{")?;
    for p in info.params {
        let v = match p.kind {
            ParamKind::Float { default, .. } => format!("{default:?}"),
            ParamKind::Int { default, .. } => default.to_string(),
            ParamKind::Bool { default } => default.to_string(),
            ParamKind::Choice { default, .. } => format!("{default:?}"),
            _ => "Default::default()".into(),
        };
        writeln!(out, "            {}: {v},", ident(p.name))?;
    }
    let red = match info.reductions[0].name() {
        "mean" => "Mean",
        "sum" => "Sum",
        "batchmean" => "BatchMean",
        _ => "None",
    };
    writeln!(out, "            reduction: ReductionMode::{red},")?;
    writeln!(out, "            path: Path::Auto,")?;
    writeln!(out, "        }}\n    }}\n}}\n")?;

    // forward: required inputs as tensors, optional ones as options.
    let args: Vec<String> = info
        .inputs
        .iter()
        .map(|i| {
            if i.required {
                format!("{}: impl Into<Input>", ident(i.name))
            } else {
                format!("{}: Option<Input>", ident(i.name))
            }
        })
        .collect();
    writeln!(out, "impl {ty} {{")?;
    doc(
        out,
        "    ",
        &format!(
            "`{name}` on burn tensors with these parameters (see the struct's docs): a `[1]` \
                  tensor for `mean` and `sum`, the per-element losses flattened (row-major) for \
                  `none` ([`crate::Loss::forward_as`] keeps their shape)."
        ),
    )?;
    doc(out, "    ", "")?;
    doc(out, "    ", "# Errors")?;
    doc(out, "    ", "The core's, as [`crate::Loss::forward`].")?;
    writeln!(
        out,
        "    pub fn forward(&self, {}) -> Result<Tensor<1>> {{",
        args.join(", ")
    )?;
    let required: Vec<String> = info
        .inputs
        .iter()
        .filter(|i| i.required)
        .map(|i| format!("({:?}, {}.into())", i.name, ident(i.name)))
        .collect();
    let optional: Vec<_> = info.inputs.iter().filter(|i| !i.required).collect();
    let m = if optional.is_empty() { "" } else { "mut " };
    writeln!(
        out,
        "        let {m}inputs: Vec<(&str, Input)> = vec![{}];",
        required.join(", ")
    )?;
    for i in optional {
        writeln!(
            out,
            "        if let Some(t) = {} {{ inputs.push(({:?}, t)); }}",
            ident(i.name),
            i.name
        )?;
    }
    write!(out, "        crate::loss({name:?})?")?;
    for p in info.params {
        write!(
            out,
            "\n            .param({:?}, self.{})?",
            p.name,
            ident(p.name)
        )?;
    }
    writeln!(out, "\n            .reduction(self.reduction)")?;
    writeln!(out, "            .path(self.path)")?;
    writeln!(out, "            .forward(inputs)")?;
    writeln!(out, "    }}\n")?;
    doc(
        out,
        "    ",
        "Checks the parameters against the catalogue and returns the loss to hold in a model.",
    )?;
    doc(out, "    ", "")?;
    doc(out, "    ", "# Errors")?;
    doc(
        out,
        "    ",
        "A parameter outside its range, in the core's words.",
    )?;
    writeln!(out, "    pub fn init(&self) -> Result<{ty}Loss> {{")?;
    writeln!(out, "        crate::check_params(&crate::loss({name:?})?")?;
    for p in info.params {
        writeln!(
            out,
            "            .param({:?}, self.{})?",
            p.name,
            ident(p.name)
        )?;
    }
    writeln!(out, "        )?;")?;
    writeln!(out, "        Ok({ty}Loss {{ config: self.clone() }})")?;
    writeln!(out, "    }}\n}}\n")?;
    doc(
        out,
        "",
        &format!("`{name}` as a model holds it: made by [`{ty}::init`] (its parameters checked). In a `#[derive(Module)]` model, mark the field `#[module(skip)]` (it holds no tensors), as burn-nn's own losses do."),
    )?;
    writeln!(out, "#[derive(Debug, Clone, PartialEq)]")?;
    writeln!(out, "pub struct {ty}Loss {{")?;
    writeln!(out, "    config: {ty},")?;
    writeln!(out, "}}\n")?;
    writeln!(out, "impl {ty}Loss {{")?;
    doc(
        out,
        "    ",
        &format!("The loss on its inputs: [`{ty}::forward`]."),
    )?;
    doc(out, "    ", "")?;
    doc(out, "    ", "# Errors")?;
    doc(out, "    ", "The core's, as [`crate::Loss::forward`].")?;
    writeln!(
        out,
        "    pub fn forward(&self, {}) -> Result<Tensor<1>> {{",
        args.join(", ")
    )?;
    let pass: Vec<String> = info.inputs.iter().map(|i| ident(i.name)).collect();
    writeln!(out, "        self.config.forward({})", pass.join(", "))?;
    writeln!(out, "    }}\n")?;
    doc(out, "    ", "The configuration it was made from.")?;
    writeln!(out, "    pub fn config(&self) -> &{ty} {{")?;
    writeln!(out, "        &self.config")?;
    writeln!(out, "    }}\n}}\n")?;
    if MODULE_STYLE.contains(&name) {
        doc(out, "", &format!("burn-nn's naming for [`{ty}`]: `{ty}LossConfig {{ .. }}.init()?` gives a [`{ty}Loss`]."))?;
        writeln!(out, "pub type {ty}LossConfig = {ty};\n")?;
    }

    // The function at the defaults.
    let required: Vec<_> = info.inputs.iter().filter(|i| i.required).collect();
    let fargs: Vec<String> = required
        .iter()
        .map(|i| format!("{}: impl Into<Input>", ident(i.name)))
        .collect();
    let call: Vec<String> = info
        .inputs
        .iter()
        .map(|i| {
            if i.required {
                ident(i.name)
            } else {
                "None".into()
            }
        })
        .collect();
    doc(
        out,
        "",
        &format!(
            "`{name}` at the catalogue's defaults, reduced by `{}`: [`{ty}`]`::default().forward(…)`.",
            reductions[0]
        ),
    )?;
    doc(out, "", "")?;
    doc(out, "", "# Errors")?;
    doc(out, "", "The core's, as [`crate::Loss::forward`].")?;
    writeln!(
        out,
        "pub fn {}({}) -> Result<Tensor<1>> {{",
        ident(name),
        fargs.join(", ")
    )?;
    writeln!(out, "    {ty}::default().forward({})", call.join(", "))?;
    writeln!(out, "}}\n")?;
    Ok(())
}
