//! `losskit lint`: the classic loss mistakes in Python (PyTorch) and Rust (burn, candle)
//! sources, found on the syntax tree (tree-sitter), not with regular expressions.
//!
//! Calls are matched by the last segment of their callee (`F.softmax`, `torch.softmax`,
//! `candle_nn::ops::softmax` are all `softmax`), and an argument is followed through the
//! nearest earlier assignment (`p = softmax(x); lp = torch.log(p)`), a few levels deep.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::json;
use tree_sitter::{Node, Parser, Tree};

use crate::{emit, Failure};

const LONG_ABOUT: &str = "\
Flag the classic loss mistakes in Python (PyTorch) and Rust (burn, candle) sources. Files are \
parsed with tree-sitter; directories are searched for .py and .rs files.

Rules:
  softmax-log-nll         softmax, then log, then nll_loss by hand
  log-softmax             log(softmax(x)) instead of log_softmax(x)
  bce-on-sigmoid          binary_cross_entropy(sigmoid(x)) instead of the with-logits form
  dice-alone              Dice as the only loss (no cross-entropy / BCE term in the file)
  focal-without-imbalance focal loss where nothing in the file suggests class imbalance
  ce-unweighted-imbalance cross-entropy without class weights where the file shows imbalance
Each finding is printed as FILE:LINE:COL: RULE: why, then the fix. `--json` prints one JSON \
object instead.

Exit status: 0 when nothing is found, 1 when something is, 2 on errors (an unreadable or \
unparsable file is reported and the other files are still checked).";

const AFTER_HELP: &str = "\
Examples:
  losskit lint train.py
  losskit lint src/ scripts/ --json";

/// Flag the classic loss mistakes in Python and Rust sources.
#[derive(Debug, clap::Args)]
#[command(long_about = LONG_ABOUT, after_help = AFTER_HELP)]
pub struct Args {
    /// Files or directories.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
    /// One JSON object: findings and errors.
    #[arg(long)]
    pub json: bool,
}

/// The source language of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Python.
    Python,
    /// Rust.
    Rust,
}

/// One mistake found.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The rule's id.
    pub rule: &'static str,
    /// Why it is a mistake.
    pub why: &'static str,
    /// What to write instead.
    pub fix: &'static str,
}

/// A call as the rules see it.
struct Call<'t> {
    node: Node<'t>,
    /// The last segment of the callee, lowercase.
    name: String,
    receiver: Option<Node<'t>>,
    args: Vec<Node<'t>>,
    kwargs: Vec<String>,
}

struct Source<'t> {
    lang: Lang,
    src: &'t str,
    calls: Vec<Call<'t>>,
    by_id: HashMap<usize, usize>,
    bindings: HashMap<String, Vec<Node<'t>>>,
}

const EVIDENCE: &[&str] = &[
    "imbalanc",
    "unbalanc",
    "long_tail",
    "long-tail",
    "longtail",
    "minority",
    "bincount",
    "class_count",
    "class_freq",
    "rare class",
    "pos_weight",
    "class_weight",
];

fn text<'a>(n: Node<'_>, src: &'a str) -> &'a str {
    n.utf8_text(src.as_bytes()).unwrap_or("")
}

fn is_comment(kind: &str) -> bool {
    matches!(kind, "comment" | "line_comment" | "block_comment")
}

impl<'t> Source<'t> {
    fn new(lang: Lang, src: &'t str, tree: &'t Tree) -> Source<'t> {
        let mut s = Source {
            lang,
            src,
            calls: Vec::new(),
            by_id: HashMap::new(),
            bindings: HashMap::new(),
        };
        let mut stack = vec![tree.root_node()];
        while let Some(n) = stack.pop() {
            s.visit(n);
            let mut cursor = n.walk();
            let children: Vec<Node<'t>> = n.named_children(&mut cursor).collect();
            stack.extend(children.into_iter().rev());
        }
        s.calls.sort_by_key(|c| c.node.start_byte());
        s.by_id = s
            .calls
            .iter()
            .enumerate()
            .map(|(i, c)| (c.node.id(), i))
            .collect();
        s
    }

    fn visit(&mut self, n: Node<'t>) {
        match n.kind() {
            "call" | "call_expression" => {
                if let Some(call) = self.call(n) {
                    self.calls.push(call);
                }
            }
            "assignment" | "assignment_expression" => {
                if let (Some(l), Some(r)) = (
                    n.child_by_field_name("left"),
                    n.child_by_field_name("right"),
                ) {
                    if l.kind() == "identifier" {
                        self.bindings
                            .entry(text(l, self.src).to_string())
                            .or_default()
                            .push(r);
                    }
                }
            }
            "let_declaration" => {
                if let (Some(p), Some(v)) = (
                    n.child_by_field_name("pattern"),
                    n.child_by_field_name("value"),
                ) {
                    let name = match p.kind() {
                        "identifier" => Some(p),
                        "mut_pattern" => p.named_child(0),
                        _ => None,
                    };
                    if let Some(name) = name {
                        self.bindings
                            .entry(text(name, self.src).to_string())
                            .or_default()
                            .push(v);
                    }
                }
            }
            _ => {}
        }
    }

    fn call(&self, n: Node<'t>) -> Option<Call<'t>> {
        let mut callee = n.child_by_field_name("function")?;
        if callee.kind() == "generic_function" {
            callee = callee.child_by_field_name("function")?;
        }
        let (name, receiver) = match callee.kind() {
            "identifier" => (text(callee, self.src).to_string(), None),
            "attribute" => (
                text(callee.child_by_field_name("attribute")?, self.src).to_string(),
                callee.child_by_field_name("object"),
            ),
            "field_expression" => (
                text(callee.child_by_field_name("field")?, self.src).to_string(),
                callee.child_by_field_name("value"),
            ),
            "scoped_identifier" => {
                // `CrossEntropyLossConfig::new()`: the type says what is built.
                let name = text(callee.child_by_field_name("name")?, self.src);
                let owner = callee.child_by_field_name("path").map(|p| {
                    let t = text(p, self.src);
                    t.rsplit("::").next().unwrap_or(t)
                });
                match (name, owner) {
                    ("new" | "default" | "init", Some(owner)) => (owner.to_string(), None),
                    _ => (name.to_string(), None),
                }
            }
            "call" | "call_expression" => (String::new(), None),
            _ => (text(callee, self.src).to_string(), None),
        };
        let mut args = Vec::new();
        let mut kwargs = Vec::new();
        if let Some(list) = n.child_by_field_name("arguments") {
            let mut cursor = list.walk();
            for a in list.named_children(&mut cursor) {
                match a.kind() {
                    "keyword_argument" => {
                        if let Some(k) = a.child_by_field_name("name") {
                            kwargs.push(text(k, self.src).to_string());
                        }
                    }
                    k if is_comment(k) || k == "attribute_item" => {}
                    _ => args.push(a),
                }
            }
        }
        Some(Call {
            node: n,
            name: name.to_ascii_lowercase(),
            receiver,
            args,
            kwargs,
        })
    }

    /// `node` without `&`, `?`, parentheses, `await`; an identifier followed to the value
    /// of its nearest earlier binding.
    fn resolve(&self, mut node: Node<'t>, depth: usize) -> Node<'t> {
        loop {
            match node.kind() {
                "try_expression" | "parenthesized_expression" | "await" | "await_expression" => {
                    match node.named_child(0) {
                        Some(c) => node = c,
                        None => return node,
                    }
                }
                "reference_expression" => match node.child_by_field_name("value") {
                    Some(c) => node = c,
                    None => return node,
                },
                "identifier" if depth < 4 => {
                    let name = text(node, self.src);
                    let at = node.start_byte();
                    let Some(values) = self.bindings.get(name) else {
                        return node;
                    };
                    let Some(v) = values
                        .iter()
                        .filter(|v| v.start_byte() < at)
                        .max_by_key(|v| v.start_byte())
                    else {
                        return node;
                    };
                    return self.resolve(*v, depth + 1);
                }
                _ => return node,
            }
        }
    }

    fn call_of(&self, node: Node<'t>) -> Option<&Call<'t>> {
        let n = self.resolve(node, 0);
        self.by_id.get(&n.id()).map(|&i| &self.calls[i])
    }

    /// What a call computes: its own name, or for an object call (`criterion(x, y)`,
    /// `nn.NLLLoss()(x, y)`, `loss_fn.forward(x, y)`) the text of what the object was built
    /// from, lowercase.
    fn effective(&self, c: &Call<'t>) -> String {
        let callee = c.node.child_by_field_name("function");
        let object = match (c.name.as_str(), c.receiver, callee) {
            ("forward", Some(r), _) => Some(r),
            ("", _, f) => f,
            (_, _, Some(f)) if f.kind() == "identifier" => Some(f),
            _ => None,
        };
        match object {
            Some(o) => {
                let r = self.resolve(o, 0);
                if r.id() == o.id() && !c.name.is_empty() && c.name != "forward" {
                    c.name.clone()
                } else {
                    text(r, self.src).to_ascii_lowercase()
                }
            }
            None => c.name.clone(),
        }
    }

    /// The operand of a unary function called either way: `torch.log(p)` or `p.log()`.
    fn operand(c: &Call<'t>) -> Option<Node<'t>> {
        c.args.first().copied().or(c.receiver)
    }
}

fn is_nll(name: &str) -> bool {
    name == "nll_loss" || name == "nll" || name.contains("nllloss")
}

fn is_bce(name: &str) -> bool {
    (name.contains("binary_cross_entropy")
        || name.contains("bceloss")
        || name.contains("binarycrossentropy")
        || name == "bce")
        && !name.contains("with_logit")
        && !name.contains("withlogits")
}

fn is_ce(name: &str) -> bool {
    (name.contains("cross_entropy") || name.contains("crossentropy")) && !name.contains("binary")
}

fn is_dice(name: &str) -> bool {
    name.contains("dice")
        && ![
            "dicece",
            "dice_ce",
            "dicefocal",
            "dice_focal",
            "bce_dice",
            "ce_dice",
            "bcedice",
            "dicebce",
            "dice_bce",
        ]
        .iter()
        .any(|c| name.contains(c))
}

fn is_focal(name: &str) -> bool {
    name.contains("focal") && !name.contains("tversky")
}

/// The fixes, per language.
fn fix(rule: &str, lang: Lang) -> &'static str {
    match (rule, lang) {
        ("softmax-log-nll", Lang::Python) => "F.cross_entropy(logits, target) on the logits (or F.nll_loss(F.log_softmax(logits, dim=1), target))",
        ("softmax-log-nll", Lang::Rust) => "candle_nn::loss::cross_entropy(&logits, &target) (or nll on candle_nn::ops::log_softmax); burn: CrossEntropyLossConfig on the logits",
        ("log-softmax", Lang::Python) => "F.log_softmax(x, dim=...) (or x.log_softmax(dim))",
        ("log-softmax", Lang::Rust) => "candle_nn::ops::log_softmax(&x, D::Minus1); burn: activation::log_softmax(x, dim)",
        ("bce-on-sigmoid", Lang::Python) => "F.binary_cross_entropy_with_logits(logits, target) (nn.BCEWithLogitsLoss) on the logits",
        ("bce-on-sigmoid", Lang::Rust) => "candle_nn::loss::binary_cross_entropy_with_logit(&logits, &target); burn: BinaryCrossEntropyLossConfig::new().with_logits(true) on the logits",
        ("dice-alone", _) => "add a cross-entropy / BCE term: loss = bce_with_logits + dice (MONAI DiceCELoss, `losskit recommend segmentation`)",
        ("focal-without-imbalance", _) => "use plain (binary) cross-entropy unless the classes are imbalanced; if they are, say so (class counts, pos_weight, a comment)",
        ("ce-unweighted-imbalance", Lang::Python) => "pass per-class weights: F.cross_entropy(logits, y, weight=w) / nn.CrossEntropyLoss(weight=w), w from `losskit weights --labels y.npy`",
        _ => "pass per-class weights (burn: CrossEntropyLossConfig::new().with_weights(Some(w))), w from `losskit weights --labels y.npy`",
    }
}

/// Lints one parsed file.
pub fn lint_source(lang: Lang, src: &str, tree: &Tree) -> Vec<Finding> {
    let s = Source::new(lang, src, tree);
    let lower = src.to_ascii_lowercase();
    let evidence = EVIDENCE.iter().any(|w| lower.contains(w));
    let mut found: Vec<(Node<'_>, &'static str, &'static str)> = Vec::new();
    let mut consumed_logs = Vec::new();
    let effective: Vec<String> = s.calls.iter().map(|c| s.effective(c)).collect();
    for (c, eff) in s.calls.iter().zip(&effective) {
        // softmax → log → nll.
        if is_nll(&c.name) || is_nll(eff) {
            if let Some(log) = c
                .args
                .first()
                .and_then(|a| s.call_of(*a))
                .filter(|l| l.name == "log")
            {
                if Source::operand(log)
                    .and_then(|o| s.call_of(o))
                    .is_some_and(|sm| sm.name.starts_with("softmax"))
                {
                    consumed_logs.push(log.node.id());
                    found.push((c.node, "softmax-log-nll", "softmax, then log, then nll_loss by hand: the log of a softmax that underflowed to 0 is -inf (NaN gradients), and it costs two extra passes"));
                }
            }
        }
        // binary_cross_entropy(sigmoid(x)).
        if is_bce(eff)
            && c.args
                .first()
                .and_then(|a| s.call_of(*a))
                .is_some_and(|sg| sg.name == "sigmoid")
        {
            found.push((c.node, "bce-on-sigmoid", "BCE on sigmoid outputs: sigmoid saturates to exactly 0 or 1 for |x| > ~17 (f32), then log gives -inf (PyTorch clamps it to -100) and the gradient vanishes"));
        }
    }
    for c in &s.calls {
        if c.name == "log"
            && !consumed_logs.contains(&c.node.id())
            && Source::operand(c)
                .and_then(|o| s.call_of(o))
                .is_some_and(|sm| sm.name.starts_with("softmax"))
        {
            found.push((c.node, "log-softmax", "log(softmax(x)): the softmax can underflow to 0 and the log becomes -inf; log_softmax computes x - logsumexp(x) stably in one pass"));
        }
    }
    let other_terms = effective.iter().zip(&s.calls).any(|(e, c)| {
        [e.as_str(), c.name.as_str()].iter().any(|n| {
            n.contains("cross_entropy")
                || n.contains("crossentropy")
                || n.contains("bce")
                || is_nll(n)
                || is_focal(n)
        })
    });
    for c in &s.calls {
        if is_dice(&c.name) && !other_terms {
            found.push((c.node, "dice-alone", "Dice as the only loss: its gradient is unstable when predictions are near empty, and it ignores per-pixel calibration; it is meant to be combined with a cross-entropy term"));
        }
        if is_focal(&c.name) && !evidence {
            found.push((c.node, "focal-without-imbalance", "focal loss where nothing suggests class imbalance: it down-weights easy examples, which costs accuracy on balanced data (Lin et al. use it for 1:1000 foreground/background)"));
        }
        if is_ce(&c.name)
            && evidence
            && !lower.contains("weightedrandomsampler")
            && !weighted(&s, c)
        {
            found.push((c.node, "ce-unweighted-imbalance", "cross-entropy without class weights while this file shows imbalanced classes: the majority classes dominate the gradient"));
        }
    }
    let mut out: Vec<Finding> = found
        .into_iter()
        .map(|(n, rule, why)| Finding {
            line: n.start_position().row + 1,
            column: n.start_position().column + 1,
            rule,
            why,
            fix: fix(rule, lang),
        })
        .collect();
    out.sort_by_key(|f| (f.line, f.column, f.rule));
    out.dedup();
    out
}

/// Whether a cross-entropy call (or the builder chain it heads) is given class weights.
fn weighted(s: &Source<'_>, c: &Call<'_>) -> bool {
    if c.kwargs.iter().any(|k| k == "weight") {
        return true;
    }
    let functional = c.name == "cross_entropy";
    if (functional && c.args.len() >= 3)
        || (!functional && s.lang == Lang::Python && !c.args.is_empty())
    {
        return true;
    }
    // burn: CrossEntropyLossConfig::new().with_weights(Some(w)).init(&device).
    let mut top = c.node;
    while let Some(p) = top.parent() {
        if matches!(
            p.kind(),
            "field_expression" | "call_expression" | "try_expression"
        ) {
            top = p;
        } else {
            break;
        }
    }
    text(top, s.src).contains("with_weights")
}

/// What went wrong with one file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileError {
    /// The file.
    pub file: PathBuf,
    /// Why it could not be checked.
    pub error: String,
}

fn lang_of(path: &Path) -> Option<Lang> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("py") => Some(Lang::Python),
        Some("rs") => Some(Lang::Rust),
        _ => None,
    }
}

fn collect(path: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<FileError>) {
    if !path.exists() {
        errors.push(FileError {
            file: path.to_path_buf(),
            error: "no such file or directory".into(),
        });
    } else if path.is_dir() {
        let mut entries: Vec<PathBuf> = match fs::read_dir(path) {
            Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(e) => {
                errors.push(FileError {
                    file: path.to_path_buf(),
                    error: format!("cannot read the directory: {e}"),
                });
                return;
            }
        };
        entries.sort();
        for p in entries {
            if p.is_dir() || lang_of(&p).is_some() {
                collect(&p, files, errors);
            }
        }
    } else if lang_of(path).is_some() {
        files.push(path.to_path_buf());
    } else {
        errors.push(FileError {
            file: path.to_path_buf(),
            error: "not a Python (.py) or Rust (.rs) file".into(),
        });
    }
}

/// Lints one file: its findings, or why it could not be checked.
pub fn lint_file(path: &Path) -> Result<Vec<Finding>, String> {
    let lang = lang_of(path).ok_or("not a Python (.py) or Rust (.rs) file")?;
    let src = fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut parser = Parser::new();
    let language: tree_sitter::Language = match lang {
        Lang::Python => tree_sitter_python::LANGUAGE.into(),
        Lang::Rust => tree_sitter_rust::LANGUAGE.into(),
    };
    parser
        .set_language(&language)
        .map_err(|e| format!("cannot load the grammar: {e}"))?;
    let tree = parser.parse(&src, None).ok_or("the parser gave up")?;
    if tree.root_node().has_error() {
        let at = first_error(tree.root_node()).map_or((0, 0), |n| {
            (n.start_position().row + 1, n.start_position().column + 1)
        });
        return Err(format!("cannot parse: syntax error at {}:{}", at.0, at.1));
    }
    Ok(lint_source(lang, &src, &tree))
}

fn first_error(n: Node<'_>) -> Option<Node<'_>> {
    if n.is_error() || n.is_missing() {
        return Some(n);
    }
    let mut cursor = n.walk();
    let children: Vec<Node<'_>> = n.children(&mut cursor).collect();
    children
        .into_iter()
        .filter(|c| c.has_error() || c.is_missing())
        .find_map(first_error)
}

/// Runs `losskit lint`: `Ok(true)` when clean, `Ok(false)` with findings.
pub fn run(args: &Args) -> Result<bool, Failure> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in &args.paths {
        collect(p, &mut files, &mut errors);
    }
    let mut findings: Vec<(PathBuf, Finding)> = Vec::new();
    for f in &files {
        match lint_file(f) {
            Ok(v) => findings.extend(v.into_iter().map(|x| (f.clone(), x))),
            Err(error) => errors.push(FileError {
                file: f.clone(),
                error,
            }),
        }
    }
    if args.json {
        let fs: Vec<_> = findings
            .iter()
            .map(|(p, f)| json!({"file": p.display().to_string(), "line": f.line, "column": f.column, "rule": f.rule, "why": f.why, "fix": f.fix}))
            .collect();
        let es: Vec<_> = errors
            .iter()
            .map(|e| json!({"file": e.file.display().to_string(), "error": e.error}))
            .collect();
        emit(&(json!({"files": files.len(), "findings": fs, "errors": es}).to_string() + "\n"))?;
    } else {
        let mut out = String::new();
        for (p, f) in &findings {
            out.push_str(&format!(
                "{}:{}:{}: {}: {}\n    fix: {}\n",
                p.display(),
                f.line,
                f.column,
                f.rule,
                f.why,
                f.fix
            ));
        }
        out.push_str(&format!(
            "{} finding(s) in {} file(s) checked\n",
            findings.len(),
            files.len() - errors.iter().filter(|e| files.contains(&e.file)).count()
        ));
        emit(&out)?;
    }
    if !errors.is_empty() {
        let mut err = std::io::stderr().lock();
        for e in &errors {
            let _ = writeln!(err, "{}: {}", e.file.display(), e.error);
        }
        return Err(Failure(format!(
            "lint: {} path(s) could not be checked",
            errors.len()
        )));
    }
    Ok(findings.is_empty())
}
