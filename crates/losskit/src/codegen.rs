//! Rust source for the adapters' generated per-loss items (`losskit-candle`, `losskit-burn`):
//! what their build scripts share, written once from the catalogue.
//!
//! Each adapter's build script writes, for every loss of [`catalogue`](crate::catalogue), a
//! config struct with the loss's parameters at the catalogue's defaults ([`write_config`]) and
//! then its own `forward` over its own tensor type. The generated code names `ReductionMode`
//! and `Path` (fused, composed or automatic), which the adapter has in scope where it includes
//! the file.

use std::fmt::{self, Write as _};

use crate::{Bound, InputKind, LossInfo, ParamKind, Range, ReductionMode, Role};

/// `bce_with_logits` → `BceWithLogits`.
pub fn type_name(name: &str) -> String {
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
pub fn ident(name: &str) -> String {
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

fn range_text(r: &Range) -> String {
    match (r.lo, r.hi) {
        (Bound::Unbounded, Bound::Unbounded) => "any finite value".to_owned(),
        _ => r.to_string(),
    }
}

/// Catalogue text for markdown: brackets escaped (`[N, C]` is a shape, not a link).
pub fn escape_doc(text: &str) -> String {
    text.replace('[', "\\[").replace(']', "\\]")
}

/// A doc line as an attribute (any text is a valid string literal through `{:?}`).
pub fn doc_attr(out: &mut String, indent: &str, text: &str) -> fmt::Result {
    writeln!(out, "{indent}#[doc = {text:?}]")
}

/// Writes `info`'s config struct: its docs (definition, an input table whose class-index
/// inputs are described as `index_inputs`, a parameter table with defaults and ranges, the
/// reductions, the reference), one public field per parameter plus `reduction` and `path`, and
/// `Default` at the catalogue's defaults with `Path::Auto`.
///
/// # Errors
/// Only those of `out`'s [`fmt::Write`].
pub fn write_config(out: &mut String, info: &LossInfo, index_inputs: &str) -> fmt::Result {
    let name = info.name;
    let ty = type_name(name);
    let reductions: Vec<&str> = info.reductions.iter().map(|r| r.name()).collect();

    // The config struct.
    doc_attr(out, "", &format!("`{name}`: {}.", escape_doc(info.summary)))?;
    doc_attr(out, "", "")?;
    doc_attr(
        out,
        "",
        &format!("Definition: {}", escape_doc(info.formula)),
    )?;
    doc_attr(out, "", "")?;
    doc_attr(out, "", "| input | role | shape |")?;
    doc_attr(out, "", "|---|---|---|")?;
    for i in info.inputs {
        let role = match (i.role, i.kind) {
            (Role::Prediction, _) => "prediction (differentiable)",
            (_, InputKind::Index) => index_inputs,
            (_, InputKind::FloatOrIndex) => "indices or probabilities",
            (Role::Target, _) => "target",
            _ => "weight",
        };
        let opt = if i.required { "" } else { " (optional)" };
        let shape = escape_doc(i.shape).replace('|', "\\|");
        doc_attr(
            out,
            "",
            &format!("| `{}`{opt} | {role} | {shape} |", i.name),
        )?;
    }
    doc_attr(out, "", "")?;
    if !info.params.is_empty() {
        doc_attr(out, "", "| parameter | default | range | |")?;
        doc_attr(out, "", "|---|---|---|---|")?;
        for p in info.params {
            let (default, r) = match p.kind {
                ParamKind::Float { default, range: r } => (format!("{default:?}"), range_text(&r)),
                ParamKind::Int { default, range: r } => (default.to_string(), range_text(&r)),
                ParamKind::Bool { default } => (default.to_string(), "`true`, `false`".into()),
                ParamKind::Choice { default, options } => (
                    format!("`{default:?}`"),
                    options
                        .iter()
                        .map(|o| format!("`{o}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
            };
            let d = escape_doc(p.doc).replace('|', "\\|");
            doc_attr(
                out,
                "",
                &format!("| `{}` | {default} | {r} | {d} |", p.name),
            )?;
        }
        doc_attr(out, "", "")?;
    }
    doc_attr(
        out,
        "",
        &format!(
            "Reductions: {} (default `{}`).",
            reductions.join(", "),
            reductions[0]
        ),
    )?;
    doc_attr(out, "", "")?;
    doc_attr(
        out,
        "",
        &format!("Reference: {}.", escape_doc(info.reference)),
    )?;
    writeln!(out, "#[derive(Debug, Clone, PartialEq)]")?;
    writeln!(out, "pub struct {ty} {{")?;
    for p in info.params {
        let t = match p.kind {
            ParamKind::Float { .. } => "f64",
            ParamKind::Int { .. } => "i64",
            ParamKind::Bool { .. } => "bool",
            _ => "&'static str",
        };
        doc_attr(out, "    ", &escape_doc(p.doc))?;
        writeln!(out, "    pub {}: {t},", ident(p.name))?;
    }
    writeln!(out, "    /// The reduction.")?;
    writeln!(out, "    pub reduction: ReductionMode,")?;
    writeln!(out, "    /// The path (fused, composed or automatic).")?;
    writeln!(out, "    pub path: Path,")?;
    writeln!(out, "}}\n")?;

    // Default: the catalogue's.
    writeln!(out, "impl Default for {ty} {{")?;
    doc_attr(
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
        };
        writeln!(out, "            {}: {v},", ident(p.name))?;
    }
    let red = match info.reductions[0] {
        ReductionMode::Mean => "Mean",
        ReductionMode::Sum => "Sum",
        ReductionMode::BatchMean => "BatchMean",
        ReductionMode::None => "None",
    };
    writeln!(out, "            reduction: ReductionMode::{red},")?;
    writeln!(out, "            path: Path::Auto,")?;
    writeln!(out, "        }}\n    }}\n}}\n")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_rust_items() {
        assert_eq!(type_name("bce_with_logits"), "BceWithLogits");
        assert_eq!(type_name("l2"), "L2");
        assert_eq!(ident("type"), "r#type");
        assert_eq!(ident("gamma"), "gamma");
        assert_eq!(escape_doc("[N, C]"), "\\[N, C\\]");
    }

    #[test]
    fn every_config_has_its_fields_and_catalogue_defaults() {
        for info in crate::catalogue() {
            let mut out = String::new();
            write_config(&mut out, info, "indices").unwrap();
            let ty = type_name(info.name);
            assert!(
                out.contains(&format!("pub struct {ty} {{")),
                "{}",
                info.name
            );
            assert!(
                out.contains(&format!("impl Default for {ty} {{")),
                "{}",
                info.name
            );
            for p in info.params {
                assert!(
                    out.contains(&format!("pub {}: ", ident(p.name))),
                    "{}",
                    p.name
                );
            }
        }
        let mut out = String::new();
        write_config(&mut out, crate::find("huber").unwrap(), "indices").unwrap();
        assert!(out.contains("            delta: 1.0,\n"), "{out}");
        assert!(
            out.contains("            reduction: ReductionMode::Mean,\n"),
            "{out}"
        );
        assert!(out.contains("            path: Path::Auto,\n"), "{out}");
    }
}
