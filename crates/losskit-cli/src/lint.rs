//! `losskit lint`: the classic loss mistakes in Python (PyTorch) and Rust (burn, candle)
//! sources, found on the syntax tree (tree-sitter), not with regular expressions.
//!
//! Calls are matched by the last segment of their callee (`F.softmax`, `torch.softmax`,
//! `candle_nn::ops::softmax` are all `softmax`), and an argument is followed through the
//! nearest earlier assignment (`p = softmax(x); lp = torch.log(p)`), a few levels deep.

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde_json::json;
use tree_sitter::{Node, Parser, Tree};

use crate::{emit, Failure};

const LONG_ABOUT: &str = "\
Flag the classic loss mistakes in Python (PyTorch) and Rust (burn, candle) sources. Files are \
parsed with tree-sitter; directories are searched for .py and .rs files.

Rules:
  softmax-log-nll         softmax, then log, then nll_loss by hand (with or without an epsilon)
  log-softmax             log(softmax(x)) instead of log_softmax(x), also log(softmax(x) + eps),
                          log(p.clamp(min=eps)) and the log of a gathered / one-hot-selected p
  bce-on-sigmoid          BCELoss / binary_cross_entropy on sigmoid outputs (a model that ends
                          in a sigmoid, followed within the file) instead of the with-logits form
  dice-alone              a Dice loss that is the only term given to backward() / backward_step
                          or optimised alone by a trainer object (ignite, MONAI, nnU-Net)
  focal-without-imbalance focal loss where nothing suggests class imbalance (no alpha, weight,
                          sampler or class counts; not inside a focal-loss implementation, not
                          a Dice + focal compound)
  ce-unweighted-imbalance cross-entropy without class weights where the file shows imbalance
Each finding is printed as FILE:LINE:COL: RULE: why (what happens numerically), then the fix. \
`--json` prints one JSON object instead.

Exit status: 0 when nothing is found, 1 when something is, 2 on errors (an unreadable or \
unparsable file, one that is not a regular file, or one above 16 MiB is reported and the other \
files are still checked).";

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
    /// name (or `self.name`) → the values bound to it, in source order.
    bindings: HashMap<String, Vec<Node<'t>>>,
    /// name → (value, position) of `a, b = value` unpackings.
    unpacked: HashMap<String, Vec<(Node<'t>, usize)>>,
    /// name → start bytes of `name += ...` (another term added).
    augmented: HashMap<String, Vec<usize>>,
    /// class name → class body; function or method name → definitions.
    classes: HashMap<String, Node<'t>>,
    functions: HashMap<String, Vec<Node<'t>>>,
}

/// What a probability-valued expression went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    Sigmoid,
    Softmax,
}

#[derive(Debug, Clone, Copy)]
struct Prob {
    act: Act,
    /// An epsilon added, or a clamp.
    eps: bool,
    /// A selection (gather, indexing, a one-hot product summed).
    sel: bool,
}

/// Tensor methods that keep what a tensor holds (shape, device, dtype, selection).
const KEEP: &[&str] = &[
    "to",
    "float",
    "double",
    "half",
    "bfloat16",
    "squeeze",
    "squeeze_",
    "unsqueeze",
    "view",
    "view_as",
    "reshape",
    "contiguous",
    "cuda",
    "cpu",
    "flatten",
    "clone",
    "detach",
    "type",
    "type_as",
    "permute",
    "transpose",
    "t",
    "expand",
    "expand_as",
    "narrow",
    "select",
    "gather",
    "index_select",
    "masked_select",
    "take_along_dim",
    "i",
    "clamp",
    "clamp_",
    "clamp_min",
    "clip",
    "clip_by_value",
    "data",
];

/// Module names whose functions take the tensor first (`torch.clamp(p, ...)`).
fn is_module_prefix(t: &str) -> bool {
    matches!(
        t,
        "torch"
            | "F"
            | "nn.functional"
            | "torch.nn.functional"
            | "np"
            | "numpy"
            | "ops"
            | "tf"
            | "tf.math"
            | "tf.nn"
            | "K"
            | "keras.backend"
            | "tf.keras.backend"
    )
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
            unpacked: HashMap::new(),
            augmented: HashMap::new(),
            classes: HashMap::new(),
            functions: HashMap::new(),
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
                    match l.kind() {
                        "identifier" | "attribute" | "field_expression" => {
                            self.bindings
                                .entry(text(l, self.src).to_string())
                                .or_default()
                                .push(r);
                        }
                        "pattern_list" | "tuple_pattern" | "tuple" => {
                            let mut cursor = l.walk();
                            for (i, e) in l.named_children(&mut cursor).enumerate() {
                                // `a, b = f()` and `self.a, self.b = f()`.
                                if e.kind() == "identifier"
                                    || (e.kind() == "attribute"
                                        && text(e, self.src).starts_with("self."))
                                {
                                    self.unpacked
                                        .entry(text(e, self.src).to_string())
                                        .or_default()
                                        .push((r, i));
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            // `for row in probs:` / `for row in probs.iter()`: each row holds what the iterable
            // holds.
            "for_statement" | "for_expression" => {
                let var = n
                    .child_by_field_name("left")
                    .or_else(|| n.child_by_field_name("pattern"));
                let iterable = n
                    .child_by_field_name("right")
                    .or_else(|| n.child_by_field_name("value"));
                if let (Some(v), Some(it)) = (var, iterable) {
                    if v.kind() == "identifier" {
                        self.bindings
                            .entry(text(v, self.src).to_string())
                            .or_default()
                            .push(it);
                    }
                }
            }
            "augmented_assignment" | "compound_assignment_expr" => {
                if let Some(l) = n.child_by_field_name("left") {
                    self.augmented
                        .entry(text(l, self.src).to_string())
                        .or_default()
                        .push(n.start_byte());
                }
            }
            "class_definition" | "struct_item" => {
                if let Some(name) = n.child_by_field_name("name") {
                    self.classes.insert(text(name, self.src).to_string(), n);
                }
            }
            "function_definition" | "function_item" => {
                if let Some(name) = n.child_by_field_name("name") {
                    self.functions
                        .entry(text(name, self.src).to_string())
                        .or_default()
                        .push(n);
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
                    return match self.binding(node) {
                        Some(v) => self.resolve(v, depth + 1),
                        None => node,
                    };
                }
                "attribute" | "field_expression"
                    if depth < 4 && text(node, self.src).starts_with("self.") =>
                {
                    return match self.binding(node) {
                        Some(v) => self.resolve(v, depth + 1),
                        None => node,
                    };
                }
                _ => return node,
            }
        }
    }

    /// The value of the nearest earlier binding of a name; for `self.x`, the nearest earlier
    /// or else the first one (an attribute set in `__init__` may come later in the file).
    fn binding(&self, node: Node<'t>) -> Option<Node<'t>> {
        let name = text(node, self.src);
        let at = node.start_byte();
        let Some(values) = self.bindings.get(name) else {
            // `self.loss_fn` read from a class attribute: `class Algo: loss_fn = DiceLoss()`.
            let attr = name.strip_prefix("self.")?;
            return self.bindings.get(attr)?.iter().copied().find(|v| {
                v.parent()
                    .and_then(|a| a.parent())
                    .and_then(|e| e.parent())
                    .and_then(|b| b.parent())
                    .is_some_and(|c| c.kind() == "class_definition")
            });
        };
        // A value binds the name from its end on: in `p = (p * y).sum(1)` the `p` inside the
        // value is the previous binding, not this one (which would recurse into itself).
        let earlier = values
            .iter()
            .filter(|v| v.end_byte() <= at)
            .max_by_key(|v| v.start_byte())
            .copied();
        if name.starts_with("self.") {
            earlier.or_else(|| values.first().copied())
        } else {
            earlier
        }
    }

    /// The nearest earlier `a, b = value` unpacking of a name: the value and the position.
    /// As in [`Self::binding`], a value binds from its end: in `a, b = f(a)` the `a` inside
    /// the value is the previous binding.
    fn unpacking(&self, node: Node<'t>) -> Option<(Node<'t>, usize)> {
        let at = node.start_byte();
        let plain = self.binding(node).map(|v| v.start_byte()).unwrap_or(0);
        self.unpacked
            .get(text(node, self.src))?
            .iter()
            .filter(|(v, _)| v.end_byte() <= at && v.start_byte() >= plain)
            .max_by_key(|(v, _)| v.start_byte())
            .copied()
    }

    /// The enclosing Python function of a node and the position of `name` among its
    /// parameters, when `name` is one and is not rebound in the function before `node`.
    fn param_of(&self, node: Node<'t>) -> Option<(Node<'t>, usize)> {
        let name = text(node, self.src);
        let mut p = node.parent();
        while let Some(f) = p {
            if f.kind() == "function_definition" {
                let params = f.child_by_field_name("parameters")?;
                let mut cursor = params.walk();
                let pos = params
                    .named_children(&mut cursor)
                    .filter(|x| text(*x, self.src) != "self")
                    .position(|x| {
                        let id = x.child_by_field_name("name").unwrap_or(x);
                        text(id, self.src) == name
                    })?;
                let rebound = self
                    .binding(node)
                    .is_some_and(|v| v.start_byte() > f.start_byte());
                return if rebound { None } else { Some((f, pos)) };
            }
            p = f.parent();
        }
        None
    }

    fn is_param(&self, node: Node<'t>) -> bool {
        self.param_of(node).is_some()
    }

    /// A parameter followed to the arguments of the calls of its function in the file.
    fn param_prob(&self, node: Node<'t>, d: usize) -> Option<Prob> {
        let (f, pos) = self.param_of(node)?;
        let fname = text(f.child_by_field_name("name")?, self.src);
        self.calls
            .iter()
            .filter(|c| {
                let callee = c.node.child_by_field_name("function");
                callee.is_some_and(|x| {
                    let raw = match x.kind() {
                        "attribute" => x.child_by_field_name("attribute"),
                        _ => Some(x),
                    };
                    raw.is_some_and(|r| text(r, self.src) == fname)
                })
            })
            .find_map(|c| self.prob(*c.args.get(pos)?, None, d + 1))
    }

    /// Whether `node` holds sigmoid or softmax probabilities, followed through bindings,
    /// tensor methods that keep them (`.to`, `.float()`, `.squeeze()`, `.view()`, indexing,
    /// `gather`, clamps), an added epsilon, a one-hot product, calls on modules built in place,
    /// `nn.Sequential(..., nn.Sigmoid())`, and the `forward` (or any method or function
    /// defined in the file) whose return value it is. `index`: the position in a returned
    /// tuple.
    fn prob(&self, node: Node<'t>, index: Option<usize>, depth: usize) -> Option<Prob> {
        if depth > 12 {
            return None;
        }
        let d = depth + 1;
        match node.kind() {
            "try_expression" | "parenthesized_expression" | "await" | "await_expression" => {
                self.prob(node.named_child(0)?, index, d)
            }
            "reference_expression" => self.prob(node.child_by_field_name("value")?, index, d),
            "identifier" => {
                if let Some((v, i)) = self.unpacking(node) {
                    return self.prob(v, Some(i), d);
                }
                match self.binding(node) {
                    Some(v) if !self.is_param(node) => self.prob(v, index, d),
                    _ => self.param_prob(node, d),
                }
            }
            "attribute" | "field_expression" => {
                let t = text(node, self.src);
                if t.starts_with("self.") {
                    if let Some((v, i)) = self.unpacking(node) {
                        return self.prob(v, Some(i), d);
                    }
                    return self.prob(self.binding(node)?, index, d);
                }
                // `p.data`: the same values.
                let field = node
                    .child_by_field_name("attribute")
                    .or_else(|| node.child_by_field_name("field"))?;
                if text(field, self.src) == "data" {
                    let inner = node
                        .child_by_field_name("object")
                        .or_else(|| node.child_by_field_name("value"))?;
                    return self.prob(inner, index, d);
                }
                None
            }
            "subscript" | "index_expression" => {
                let inner = node
                    .child_by_field_name("value")
                    .or_else(|| node.named_child(0))?;
                self.prob(inner, None, d).map(|p| Prob { sel: true, ..p })
            }
            "expression_list" | "tuple" | "tuple_expression" => match index {
                Some(i) => self.prob(node.named_child(i)?, None, d),
                None => None,
            },
            "binary_operator" | "binary_expression" => {
                let op = node.child_by_field_name("operator")?;
                let (l, r) = (
                    node.child_by_field_name("left")?,
                    node.child_by_field_name("right")?,
                );
                let either = || self.prob(l, None, d).or_else(|| self.prob(r, None, d));
                match text(op, self.src) {
                    "+" => {
                        let small = |n: Node<'t>| {
                            matches!(
                                n.kind(),
                                "float" | "integer" | "float_literal" | "identifier" | "attribute"
                            )
                        };
                        let p = self
                            .prob(l, None, d)
                            .filter(|_| small(r))
                            .or_else(|| self.prob(r, None, d).filter(|_| small(l)))?;
                        Some(Prob { eps: true, ..p })
                    }
                    "*" => either().map(|p| Prob { sel: true, ..p }),
                    _ => None,
                }
            }
            "call" | "call_expression" => {
                let &i = self.by_id.get(&node.id())?;
                self.call_prob(&self.calls[i], index, d)
            }
            _ => None,
        }
    }

    fn call_prob(&self, c: &Call<'t>, index: Option<usize>, d: usize) -> Option<Prob> {
        let bare = |act| {
            Some(Prob {
                act,
                eps: false,
                sel: false,
            })
        };
        if c.name == "sigmoid" || c.name == "sigmoid_" {
            return bare(Act::Sigmoid);
        }
        if c.name.starts_with("softmax") {
            return bare(Act::Softmax);
        }
        // `add_layer(x, 784, 10, activation_function=tf.nn.softmax)`: a helper or layer given
        // the activation itself (not its value) returns what that activation makes.
        for (_, v) in self.arg_values(c) {
            if matches!(v.kind(), "identifier" | "attribute") {
                let t = text(v, self.src);
                match t.rsplit('.').next().unwrap_or(t) {
                    "softmax" => return bare(Act::Softmax),
                    "sigmoid" => return bare(Act::Sigmoid),
                    _ => {}
                }
            }
        }
        let callee = c.node.child_by_field_name("function")?;
        // `nn.Sigmoid()(x)`, `Net()(x)`: a module built in place.
        if c.name.is_empty() {
            return self.module_prob(callee, index, d);
        }
        if KEEP.contains(&c.name.as_str()) || c.name == "sum" {
            let operand = match c.receiver {
                Some(r) if !is_module_prefix(text(r, self.src)) => r,
                _ => *c.args.first()?,
            };
            let p = if c.name == "sum" {
                // `(p * onehot).sum(1)`: a selection.
                let inner = self.prob(operand, None, d)?;
                if !inner.sel {
                    return None;
                }
                inner
            } else {
                self.prob(operand, None, d)?
            };
            let clamp = c.name.starts_with("clamp") || c.name.starts_with("clip");
            let select = matches!(
                c.name.as_str(),
                "gather" | "index_select" | "masked_select" | "take_along_dim" | "select" | "i"
            );
            return Some(Prob {
                eps: p.eps || clamp,
                sel: p.sel || select,
                ..p
            });
        }
        // `model(x)`, `self.D(x)`, `D(x)`: what the callee was built as.
        if callee.kind() == "identifier"
            || (callee.kind() == "attribute" && text(callee, self.src).starts_with("self."))
        {
            let r = self.resolve(callee, 0);
            // `self.f(x)` with `self.f = f` a constructor parameter, or `f(x)` with `f` a
            // parameter: the activation the callers pass (`Net(..., f=torch.sigmoid)`).
            if r.kind() == "identifier" && self.is_param(r) {
                if let Some(p) = self
                    .param_args(r)
                    .into_iter()
                    .find_map(|a| self.activation_ref(a, d))
                {
                    return Some(p);
                }
            }
            if r.id() != callee.id() {
                return self.module_prob(r, index, d);
            }
            // A model passed in (`train(model, ...)`) and built later in the file, in main().
            if callee.kind() == "identifier" && self.is_param(callee) {
                if let Some(v) = self
                    .bindings
                    .get(text(callee, self.src))
                    .and_then(|v| v.first())
                {
                    if let Some(p) = self.module_prob(*v, index, d) {
                        return Some(p);
                    }
                }
            }
        }
        // A function defined in the file, or a method of a class in the file.
        let raw = match callee.kind() {
            "attribute" => callee.child_by_field_name("attribute"),
            "field_expression" => callee.child_by_field_name("field"),
            "identifier" => Some(callee),
            _ => None,
        }
        .map(|n| text(n, self.src))?;
        if let Some(class) = self.classes.get(raw) {
            return self.class_prob(*class, index, d);
        }
        self.functions
            .get(raw)?
            .iter()
            .find_map(|f| self.returns_prob(*f, index, d))
    }

    /// What a module produces: `nn.Sigmoid()`, `nn.Sequential(..., nn.Sigmoid())`, an
    /// instance of a class defined in the file.
    fn module_prob(&self, m: Node<'t>, index: Option<usize>, d: usize) -> Option<Prob> {
        if d > 12 {
            return None;
        }
        let m = self.resolve(m, 0);
        let &i = self.by_id.get(&m.id())?;
        let c = &self.calls[i];
        let bare = |act| {
            Some(Prob {
                act,
                eps: false,
                sel: false,
            })
        };
        match c.name.as_str() {
            "sigmoid" => bare(Act::Sigmoid),
            n if n.starts_with("softmax") => bare(Act::Softmax),
            "sequential" => self.module_prob(*c.args.last()?, index, d + 1),
            // `nn.BCELoss().cuda()`, `Net().to(device)`: the same module.
            "to" | "cuda" | "cpu" | "float" | "double" | "train" | "eval" => {
                self.module_prob(c.receiver?, index, d + 1)
            }
            _ => {
                let callee = c.node.child_by_field_name("function")?;
                let raw = match callee.kind() {
                    "attribute" => callee.child_by_field_name("attribute"),
                    "identifier" => Some(callee),
                    _ => None,
                }
                .map(|n| text(n, self.src))?;
                self.class_prob(*self.classes.get(raw)?, index, d + 1)
            }
        }
    }

    /// What `forward` of a class defined in the file returns.
    fn class_prob(&self, class: Node<'t>, index: Option<usize>, d: usize) -> Option<Prob> {
        let forward = self.functions.get("forward")?.iter().find(|f| {
            let mut p = f.parent();
            while let Some(n) = p {
                if n.id() == class.id() {
                    return true;
                }
                p = n.parent();
            }
            false
        })?;
        self.returns_prob(*forward, index, d + 1)
    }

    /// Whether a function returns probabilities (any of its `return`s).
    fn returns_prob(&self, f: Node<'t>, index: Option<usize>, d: usize) -> Option<Prob> {
        if d > 12 {
            return None;
        }
        let body = f.child_by_field_name("body")?;
        let mut stack = vec![body];
        while let Some(n) = stack.pop() {
            if n.kind() == "return_statement" {
                if let Some(v) = n.named_child(0) {
                    if let Some(p) = self.prob(v, index, d + 1) {
                        return Some(p);
                    }
                }
                continue;
            }
            if matches!(n.kind(), "function_definition" | "class_definition") {
                continue;
            }
            let mut cursor = n.walk();
            stack.extend(n.named_children(&mut cursor));
        }
        None
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
            (_, _, Some(f))
                if matches!(f.kind(), "attribute" | "field_expression")
                    && text(f, self.src).starts_with("self.") =>
            {
                Some(f)
            }
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

    /// The values the calls of a parameter's function pass for it, positionally or by keyword
    /// (for an `__init__` parameter, the calls of the class).
    fn param_args(&self, node: Node<'t>) -> Vec<Node<'t>> {
        let Some((f, pos)) = self.param_of(node) else {
            return Vec::new();
        };
        let name = text(node, self.src);
        let Some(mut fname) = f.child_by_field_name("name").map(|n| text(n, self.src)) else {
            return Vec::new();
        };
        if fname == "__init__" {
            let class = f
                .parent()
                .and_then(|b| b.parent())
                .filter(|c| c.kind() == "class_definition");
            if let Some(n) = class.and_then(|c| c.child_by_field_name("name")) {
                fname = text(n, self.src);
            }
        }
        let mut out = Vec::new();
        for c in &self.calls {
            let raw = c
                .node
                .child_by_field_name("function")
                .and_then(|x| match x.kind() {
                    "attribute" => x.child_by_field_name("attribute"),
                    "identifier" => Some(x),
                    _ => None,
                });
            if !raw.is_some_and(|r| text(r, self.src) == fname) {
                continue;
            }
            let values = self.arg_values(c);
            let positional = values.iter().filter(|(k, _)| k.is_none()).nth(pos);
            let keyword = values.iter().find(|(k, _)| *k == Some(name));
            out.extend(positional.or(keyword).map(|(_, v)| *v));
        }
        out
    }

    /// An activation passed as a value: the function (`torch.sigmoid`, `tf.nn.softmax`, also
    /// through a name bound to it) or a module (`nn.Sigmoid()`).
    fn activation_ref(&self, a: Node<'t>, d: usize) -> Option<Prob> {
        let a = self.resolve(a, 0);
        if matches!(a.kind(), "identifier" | "attribute") {
            let t = text(a, self.src);
            let act = match t.rsplit('.').next().unwrap_or(t) {
                "softmax" => Act::Softmax,
                "sigmoid" => Act::Sigmoid,
                _ => return None,
            };
            return Some(Prob {
                act,
                eps: false,
                sel: false,
            });
        }
        self.module_prob(a, None, d + 1)
    }

    /// The argument values of a call, each with its keyword (`None` when positional).
    fn arg_values(&self, c: &Call<'t>) -> Vec<(Option<&'t str>, Node<'t>)> {
        let Some(list) = c.node.child_by_field_name("arguments") else {
            return Vec::new();
        };
        let mut cursor = list.walk();
        let children: Vec<Node<'t>> = list.named_children(&mut cursor).collect();
        children
            .into_iter()
            .filter_map(|a| match a.kind() {
                "keyword_argument" => Some((
                    a.child_by_field_name("name").map(|k| text(k, self.src)),
                    a.child_by_field_name("value")?,
                )),
                k if is_comment(k) || k == "attribute_item" => None,
                _ => Some((None, a)),
            })
            .collect()
    }
}

/// Keywords under which a trainer object takes the loss it optimises.
const LOSS_KEYWORDS: &[&str] = &["loss", "loss_fn", "loss_function", "criterion"];

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
    // Dice + focal (MONAI `DiceFocalLoss`) is the segmentation remedy for a small foreground:
    // its Dice term is itself the imbalance signal.
    name.contains("focal") && !name.contains("tversky") && !name.contains("dice")
}

/// The fixes, per language.
fn fix(rule: &str, lang: Lang) -> &'static str {
    match (rule, lang) {
        ("softmax-log-nll", Lang::Python) => "F.cross_entropy(logits, target) on the logits (or F.nll_loss(F.log_softmax(logits, dim=1), target)), no epsilon",
        ("softmax-log-nll", Lang::Rust) => "candle_nn::loss::cross_entropy(&logits, &target) (or nll on candle_nn::ops::log_softmax); burn: CrossEntropyLossConfig on the logits",
        ("log-softmax", Lang::Python) => "F.log_softmax(x, dim=...) (or x.log_softmax(dim)), then select: F.log_softmax(x, 1).gather(1, a), no epsilon",
        ("log-softmax", Lang::Rust) => "candle_nn::ops::log_softmax(&x, D::Minus1); burn: activation::log_softmax(x, dim)",
        ("bce-on-sigmoid", Lang::Python) => "drop the final sigmoid and call F.binary_cross_entropy_with_logits(logits, target) (nn.BCEWithLogitsLoss) on the logits; apply torch.sigmoid only for predictions",
        ("bce-on-sigmoid", Lang::Rust) => "candle_nn::loss::binary_cross_entropy_with_logit(&logits, &target); burn: BinaryCrossEntropyLossConfig::new().with_logits(true) on the logits",
        ("dice-alone", _) => "add a cross-entropy / BCE term: loss = bce_with_logits + dice (MONAI DiceCELoss, `losskit recommend segmentation`)",
        ("focal-without-imbalance", _) => "use plain (binary) cross-entropy unless the classes are imbalanced; if they are, say so (class counts, pos_weight, a comment)",
        ("ce-unweighted-imbalance", Lang::Python) => "pass per-class weights: F.cross_entropy(logits, y, weight=w) / nn.CrossEntropyLoss(weight=w), w from `losskit weights --labels y.npy`",
        _ => "pass per-class weights (burn: CrossEntropyLossConfig::new().with_weights(Some(w))), w from `losskit weights --labels y.npy`",
    }
}

const WHY_NLL: &str = "softmax, then log, then nll_loss by hand: in float32 a class whose logit is ~104 below the largest gets probability exactly 0, log 0 = -inf, an infinite loss and NaN gradients; an added epsilon or a clamp only caps the loss at log(eps) (-18.4 for 1e-8) with a zero or vanishing gradient, and biases every probability. log_softmax computes x - logsumexp(x) exactly in one pass";
const WHY_LOG: &str = "log(softmax(x)): in float32 a class whose logit is ~104 below the largest gets probability exactly 0, its log is -inf and the gradient NaN (a selection by gather, indexing or a one-hot sum does not change this); log_softmax computes x - logsumexp(x) stably in one pass";
const WHY_LOG_EPS: &str = "log(softmax(x) + eps) / log(p.clamp(min=eps)): the epsilon hides the -inf but does not fix it. Every probability below eps gives the same loss log(eps) (-18.4 for 1e-8) with a zero gradient through the clamp (a vanishing one through + eps), so confidently wrong predictions stop being corrected, and eps biases the others; log_softmax is exact, with no epsilon";
const WHY_BCE: &str = "BCE on sigmoid outputs: in float32 sigmoid(x) rounds to exactly 1.0 for x > ~17 (and to 0 below ~-104), log(1 - p) is then -inf, which PyTorch clamps to -100: the loss is capped and the gradient through the saturated sigmoid is 0, so confidently wrong outputs stop learning. The with-logits form computes max(x,0) - x*y + log1p(exp(-|x|)) from the logit";
const WHY_DICE: &str = "Dice is the only term of the loss optimised here: its gradient, about 1/(sum p + sum y) per pixel, is large and noisy when the prediction and the mask are nearly empty, and it never calibrates per-pixel probabilities; it is meant to be combined with a cross-entropy term";

/// Lints one parsed file.
pub fn lint_source(lang: Lang, src: &str, tree: &Tree) -> Vec<Finding> {
    let s = Source::new(lang, src, tree);
    let lower = src.to_ascii_lowercase();
    let evidence = EVIDENCE.iter().any(|w| lower.contains(w));
    let mut found: Vec<(Node<'_>, &'static str, &'static str)> = Vec::new();
    let mut consumed_logs = Vec::new();
    let effective: Vec<String> = s.calls.iter().map(|c| s.effective(c)).collect();
    let softmax_of = |n: Node<'_>| s.prob(n, None, 0).filter(|p| p.act == Act::Softmax);
    for (c, eff) in s.calls.iter().zip(&effective) {
        // softmax → log → nll.
        if is_nll(&c.name) || is_nll(eff) {
            if let Some(log) = c
                .args
                .first()
                .and_then(|a| s.call_of(*a))
                .filter(|l| l.name == "log")
            {
                if Source::operand(log).and_then(softmax_of).is_some() {
                    consumed_logs.push(log.node.id());
                    found.push((c.node, "softmax-log-nll", WHY_NLL));
                }
            }
        }
        // binary_cross_entropy(sigmoid(x)), criterion(model(x), y) with a sigmoid-ending model.
        if is_bce(eff)
            && c.args
                .first()
                .and_then(|a| s.prob(*a, None, 0))
                .is_some_and(|p| p.act == Act::Sigmoid)
        {
            found.push((c.node, "bce-on-sigmoid", WHY_BCE));
        }
    }
    for c in &s.calls {
        if c.name == "log" && !consumed_logs.contains(&c.node.id()) {
            if let Some(p) = Source::operand(c).and_then(softmax_of) {
                let why = if p.eps { WHY_LOG_EPS } else { WHY_LOG };
                found.push((c.node, "log-softmax", why));
            }
        }
    }
    // Dice as the only optimised term: `loss.backward()` / `opt.backward_step(&loss)` on a
    // value that is one Dice call, with nothing added to it in between.
    for c in &s.calls {
        let target = match c.name.as_str() {
            "backward" => c.receiver.or_else(|| c.args.first().copied()),
            "backward_step" => c.args.first().copied(),
            _ => None,
        };
        let Some(mut target) = target else { continue };
        // `scaler.scale(loss).backward()`, `loss.mean().backward()`.
        while let Some(inner) = s.by_id.get(&target.id()).map(|&i| &s.calls[i]) {
            match inner.name.as_str() {
                "scale" => match inner.args.first() {
                    Some(a) => target = *a,
                    None => break,
                },
                "mean" | "sum" => match inner.receiver {
                    Some(r) => target = r,
                    None => break,
                },
                _ => break,
            }
        }
        let mut t = target;
        while matches!(
            t.kind(),
            "reference_expression" | "parenthesized_expression"
        ) {
            match t.child_by_field_name("value").or_else(|| t.named_child(0)) {
                Some(n) => t = n,
                None => break,
            }
        }
        let value = match t.kind() {
            "identifier" => {
                let Some(v) = s.binding(t) else { continue };
                let added = s.augmented.get(text(t, src)).is_some_and(|at| {
                    at.iter()
                        .any(|&a| a > v.start_byte() && a < c.node.start_byte())
                });
                if added {
                    continue;
                }
                v
            }
            _ => t,
        };
        let value = s.resolve(value, 1);
        if let Some(&i) = s.by_id.get(&value.id()) {
            let dc = &s.calls[i];
            // `effective`: what an object call was built from (`dice_loss_fn = DiceCELoss()`
            // is a compound, whatever the variable is called).
            if is_dice(&effective[i]) {
                found.push((dc.node, "dice-alone", WHY_DICE));
            }
        }
    }
    // A trainer object does the backward(): a Dice loss given to one (ignite
    // `create_supervised_trainer(net, opt, loss)`, MONAI `SupervisedTrainer(loss_function=...)`),
    // or set as `self.loss` in a trainer class (nnU-Net's `nnUNetTrainer` subclasses).
    let dice_call = |v: Node<'_>| {
        let i = *s.by_id.get(&s.resolve(v, 0).id())?;
        let dc = &s.calls[i];
        is_dice(&effective[i]).then_some(dc.node)
    };
    for c in s.calls.iter().filter(|c| c.name.contains("trainer")) {
        for (key, v) in s.arg_values(c) {
            if key.map_or(true, |k| LOSS_KEYWORDS.contains(&k)) {
                if let Some(n) = dice_call(v) {
                    found.push((n, "dice-alone", WHY_DICE));
                }
            }
        }
    }
    for key in LOSS_KEYWORDS {
        for v in s.bindings.get(&format!("self.{key}")).into_iter().flatten() {
            let in_trainer = enclosing_names(*v, src)
                .iter()
                .any(|n| n.to_ascii_lowercase().contains("trainer"));
            if let Some(n) = dice_call(*v).filter(|_| in_trainer) {
                found.push((n, "dice-alone", WHY_DICE));
            }
        }
    }
    let focal_evidence = evidence
        || ["alpha", "sampler", "weight=", "weights="]
            .iter()
            .any(|w| lower.contains(w));
    for c in &s.calls {
        let inside_focal = enclosing_names(c.node, src)
            .iter()
            .any(|n| n.to_ascii_lowercase().contains("focal"));
        if is_focal(&c.name)
            && !focal_evidence
            && !inside_focal
            && !c
                .kwargs
                .iter()
                .any(|k| k == "alpha" || k.contains("weight"))
            && !gamma_zero(text(c.node, src))
        {
            found.push((c.node, "focal-without-imbalance", "focal loss where nothing suggests class imbalance (no per-class alpha, weight or sampler, no class counts): it down-weights easy examples by (1-p)^gamma, which costs accuracy and calibration on balanced data (Lin et al. use it for 1:1000 foreground/background)"));
        }
        if is_ce(&c.name)
            && evidence
            && !inside_focal
            && !lower.contains("weightedrandomsampler")
            && !weighted(&s, c)
        {
            found.push((c.node, "ce-unweighted-imbalance", "cross-entropy without class weights while this file shows imbalanced classes: each class contributes in proportion to its count, so the majority classes dominate the gradient and the rare ones are under-predicted"));
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
    out.dedup_by(|a, b| a.line == b.line && a.column == b.column && a.rule == b.rule);
    out
}

/// The names of the classes and functions around a node.
fn enclosing_names(n: Node<'_>, src: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut p = n.parent();
    while let Some(x) = p {
        if matches!(
            x.kind(),
            "class_definition"
                | "function_definition"
                | "function_item"
                | "impl_item"
                | "struct_item"
        ) {
            if let Some(name) = x
                .child_by_field_name("name")
                .or_else(|| x.child_by_field_name("type"))
            {
                out.push(text(name, src).to_string());
            }
        }
        p = x.parent();
    }
    out
}

/// `gamma=0`: a focal loss that is plain cross-entropy (a check of the implementation).
fn gamma_zero(call: &str) -> bool {
    let t: String = call.chars().filter(|c| !c.is_whitespace()).collect();
    t.match_indices("gamma=0").any(|(i, m)| {
        !t[i + m.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == '.')
    })
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

/// The largest source file read (bytes).
const MAX_SOURCE: u64 = 16 << 20;

/// Lints one file: its findings, or why it could not be checked.
pub fn lint_file(path: &Path) -> Result<Vec<Finding>, String> {
    let lang = lang_of(path).ok_or("not a Python (.py) or Rust (.rs) file")?;
    // Checked before opening: opening a FIFO blocks, a device (`/dev/zero`) never ends.
    let meta = fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file (a device, FIFO or socket): skipped".into());
    }
    let mut bytes = Vec::new();
    fs::File::open(path)
        .and_then(|f| f.take(MAX_SOURCE + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_SOURCE {
        return Err(format!(
            "larger than {} MiB: skipped (not a hand-written source file)",
            MAX_SOURCE >> 20
        ));
    }
    let src = String::from_utf8(bytes).map_err(|_| "cannot read: not UTF-8 text".to_string())?;
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
        let checked = files.len() - errors.iter().filter(|e| files.contains(&e.file)).count();
        // With nothing checked, a "0 finding(s)" summary on stdout would read as a clean
        // result; the errors on stderr and the exit status say what happened instead.
        if checked > 0 || errors.is_empty() {
            out.push_str(&format!(
                "{} finding(s) in {checked} file(s) checked\n",
                findings.len()
            ));
        }
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
