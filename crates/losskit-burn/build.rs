//! Writes `losses.rs` into OUT_DIR: for every loss of `losskit::catalogue()`, a config struct
//! whose fields are the loss's parameters with the catalogue's defaults, a `forward` taking
//! its inputs, and a function at the defaults.
//!
//! Generated from the catalogue itself (rather than a macro over a hand-kept list with a test
//! that the list matches) so that there is no list to drift: a loss, input or parameter added
//! to the core appears here on the next build, its docs and defaults included. It costs no
//! second build of the core: cargo shares it between the build script and the library.

use std::fmt::Write as _;

use losskit::codegen::{doc_attr, ident, type_name, write_config};

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

/// burn-nn's builder shape for a config: `new()` (the catalogue's defaults) and one
/// `with_<field>` per parameter, plus `with_reduction` and `with_path`, so that
/// `FocalLossConfig::new().with_gamma(2.0).init()?` reads as burn-nn's
/// `CrossEntropyLossConfig::new().with_smoothing(Some(0.1)).init(&device)`.
fn write_builder(out: &mut String, info: &losskit::LossInfo) -> std::fmt::Result {
    doc_attr(
        out,
        "    ",
        "The catalogue's defaults: the same as `Default::default()`.",
    )?;
    writeln!(out, "    pub fn new() -> Self {{")?;
    writeln!(out, "        Self::default()")?;
    writeln!(out, "    }}\n")?;
    let mut fields: Vec<(String, &str, String)> = info
        .params
        .iter()
        .map(|p| {
            let t = match p.kind {
                losskit::ParamKind::Float { .. } => "f64",
                losskit::ParamKind::Int { .. } => "i64",
                losskit::ParamKind::Bool { .. } => "bool",
                // Choice (the enum is non-exhaustive): a word, as the config's field.
                _ => "&'static str",
            };
            (
                p.name.to_owned(),
                t,
                format!("Sets `{}` (checked by `init` and when evaluated).", p.name),
            )
        })
        .collect();
    fields.push((
        "reduction".into(),
        "ReductionMode",
        "Sets the reduction.".into(),
    ));
    fields.push(("path".into(), "Path", "Sets the path.".into()));
    for (field, t, doc) in fields {
        doc_attr(out, "    ", &doc)?;
        writeln!(out, "    #[must_use]")?;
        writeln!(
            out,
            "    pub fn with_{field}(mut self, value: {t}) -> Self {{"
        )?;
        writeln!(out, "        self.{} = value;", ident(&field))?;
        writeln!(out, "        self")?;
        writeln!(out, "    }}\n")?;
    }
    Ok(())
}

fn write_loss(out: &mut String, info: &losskit::LossInfo) -> std::fmt::Result {
    let name = info.name;
    let ty = type_name(name);
    let reductions: Vec<&str> = info.reductions.iter().map(|r| r.name()).collect();

    write_config(out, info, "class indices (an `Int` tensor)")?;

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
    write_builder(out, info)?;
    doc_attr(
        out,
        "    ",
        &format!(
            "`{name}` on burn tensors with these parameters (see the struct's docs): a `[1]` \
                  tensor for `mean` and `sum`, the per-element losses flattened (row-major) for \
                  `none` ([`crate::Loss::forward_as`] keeps their shape)."
        ),
    )?;
    doc_attr(out, "    ", "")?;
    doc_attr(out, "    ", "# Errors")?;
    doc_attr(out, "    ", "The core's, as [`crate::Loss::forward`].")?;
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
    doc_attr(
        out,
        "    ",
        "Checks the parameters against the catalogue and returns the loss to hold in a model.",
    )?;
    doc_attr(out, "    ", "")?;
    doc_attr(out, "    ", "# Errors")?;
    doc_attr(
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
    doc_attr(
        out,
        "",
        &format!("`{name}` as a model holds it: made by [`{ty}::init`] (its parameters checked). In a `#[derive(Module)]` model, mark the field `#[module(skip)]` (it holds no tensors), as burn-nn's own losses do."),
    )?;
    writeln!(out, "#[derive(Debug, Clone, PartialEq)]")?;
    writeln!(out, "pub struct {ty}Loss {{")?;
    writeln!(out, "    config: {ty},")?;
    writeln!(out, "}}\n")?;
    writeln!(out, "impl {ty}Loss {{")?;
    doc_attr(
        out,
        "    ",
        &format!("The loss on its inputs: [`{ty}::forward`]."),
    )?;
    doc_attr(out, "    ", "")?;
    doc_attr(out, "    ", "# Errors")?;
    doc_attr(out, "    ", "The core's, as [`crate::Loss::forward`].")?;
    writeln!(
        out,
        "    pub fn forward(&self, {}) -> Result<Tensor<1>> {{",
        args.join(", ")
    )?;
    let pass: Vec<String> = info.inputs.iter().map(|i| ident(i.name)).collect();
    writeln!(out, "        self.config.forward({})", pass.join(", "))?;
    writeln!(out, "    }}\n")?;
    doc_attr(out, "    ", "The configuration it was made from.")?;
    writeln!(out, "    pub fn config(&self) -> &{ty} {{")?;
    writeln!(out, "        &self.config")?;
    writeln!(out, "    }}\n}}\n")?;
    if MODULE_STYLE.contains(&name) {
        doc_attr(out, "", &format!("burn-nn's naming for [`{ty}`]: `{ty}LossConfig {{ .. }}.init()?` gives a [`{ty}Loss`]."))?;
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
    doc_attr(
        out,
        "",
        &format!(
            "`{name}` at the catalogue's defaults, reduced by `{}`: [`{ty}`]`::default().forward(…)`.",
            reductions[0]
        ),
    )?;
    doc_attr(out, "", "")?;
    doc_attr(out, "", "# Errors")?;
    doc_attr(out, "", "The core's, as [`crate::Loss::forward`].")?;
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
