//! `losskit`: evaluate any loss of the catalogue and its gradients on `.npy` arrays, list the
//! catalogue, explain a loss, compute class-imbalance weights.
//!
//! The binary is thin: every subcommand dispatches through the core's catalogue
//! ([`losskit::catalogue`], [`losskit::find`]) and dynamic layer ([`losskit::evaluate_with`]),
//! so a loss added to the catalogue is reachable here without a line of CLI code.
//!
//! Exit status: 0 on success, 1 when `lint` finds a mistake or `gradcheck` a gradient above
//! its tolerance, 2 on any error (usage, unknown names, bad values, unreadable or
//! unwritable files), with the message on stderr and nothing on stdout.

mod bench;
mod edt;
mod eval;
mod explain;
mod gradcheck;
mod lint;
mod list;
mod plot;
mod recommend;
#[cfg(feature = "sql")]
mod sql;
mod tour;
mod weights;

use losskit_cli::npy;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Loss functions and their gradients from the command line.
#[derive(Debug, Parser)]
#[command(name = "losskit", version, about, long_about = None, propagate_version = true)]
#[command(
    after_help = "Exit status: 0 on success, 1 when `lint` finds a mistake or `gradcheck` a gradient above its tolerance, 2 on any error (the message goes to stderr)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Eval(eval::Args),
    List(list::Args),
    Explain(explain::Args),
    Weights(weights::Args),
    Recommend(recommend::Args),
    Lint(lint::Args),
    Plot(plot::Args),
    Gradcheck(gradcheck::Args),
    Tour(tour::Args),
    Bench(bench::Args),
    Edt(edt::Args),
    #[cfg(feature = "sql")]
    Sql(sql::Args),
}

/// A failed run: the message printed after `error: ` on stderr.
#[derive(Debug)]
pub struct Failure(pub String);

impl From<losskit::Error> for Failure {
    fn from(e: losskit::Error) -> Failure {
        Failure(e.to_string())
    }
}

/// Writes `text` to stdout in one piece. A closed pipe (`losskit list | head`) ends the run
/// quietly, as for any Unix filter.
pub fn emit(text: &str) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(Failure(format!("cannot write to standard output: {e}")))
        }
        _ => Ok(()),
    }
}

/// A clap usage error in two lines: its first paragraph (the error, without the usage block
/// and the tips that follow it) on one line, then where help is.
fn usage_error(rendered: &str) -> String {
    let first: Vec<&str> = rendered
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let message = first.join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    format!("error: {message}\nFor more information, try '--help'.\n")
}

fn main() -> ExitCode {
    // clap prints `--help`/`--version` (0) and the help of a bare `losskit` (2); a usage
    // error is the error and one hint line, as every other error of the binary.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind as K;
            if matches!(
                e.kind(),
                K::DisplayHelp | K::DisplayVersion | K::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                e.exit();
            }
            let _ = write!(
                io::stderr().lock(),
                "{}",
                usage_error(&e.render().to_string())
            );
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Eval(args) => eval::run(&args).map(|()| true),
        Command::List(args) => list::run(&args).map(|()| true),
        Command::Explain(args) => explain::run(&args).map(|()| true),
        Command::Weights(args) => weights::run(&args).map(|()| true),
        Command::Recommend(args) => recommend::run(&args).map(|()| true),
        Command::Lint(args) => lint::run(&args),
        Command::Plot(args) => plot::run(&args).map(|()| true),
        Command::Gradcheck(args) => gradcheck::run(&args),
        Command::Tour(args) => tour::run(&args).map(|()| true),
        Command::Bench(args) => bench::run(&args).map(|()| true),
        Command::Edt(args) => edt::run(&args).map(|()| true),
        #[cfg(feature = "sql")]
        Command::Sql(args) => sql::run(&args).map(|()| true),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        // `lint` found something, `gradcheck` saw an error above the tolerance.
        Ok(false) => ExitCode::from(1),
        Err(Failure(message)) => {
            // If stderr itself is gone there is no one left to tell.
            let _ = writeln!(io::stderr().lock(), "error: {message}");
            ExitCode::from(2)
        }
    }
}
