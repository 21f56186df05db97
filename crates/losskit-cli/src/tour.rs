//! `losskit tour`: trains small models on built-in data, one experiment per row of the
//! decision guide, and prints what it measured (the experiments live in `losskit-tour`).

use std::fs;
use std::path::PathBuf;

use clap::Args as ClapArgs;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::{emit, Failure};

/// Train small models on built-in data and compare the recommended loss with the naive one.
///
/// Seven experiments: outliers, prediction intervals, class imbalance, label noise,
/// small-object segmentation, embeddings for unseen classes, box regression. Every number is
/// measured in the run; the data are generated from the seed.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Smaller data and fewer steps: a few seconds.
    #[arg(long)]
    quick: bool,
    /// Seed of the data and initialisations.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Run only these experiments (1-based ids, comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "N,...")]
    only: Vec<usize>,
    /// Print one JSON object (experiments, metrics with ranges, rows, verdicts) instead of tables.
    #[arg(long)]
    json: bool,
    /// Also write a self-contained HTML report (tables and SVG figures) to DIR/index.html.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
}

/// Runs the subcommand.
pub fn run(args: &Args) -> Result<(), Failure> {
    let config = losskit_tour::Config {
        seed: args.seed,
        quick: args.quick,
        only: args.only.clone(),
    };
    // On stderr, and drawn only when stderr is a terminal (indicatif hides it otherwise).
    let bar = ProgressBar::with_draw_target(
        Some(losskit_tour::work(&config) as u64),
        ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} training {pos}/{len} models [{elapsed_precise}] {wide_bar}",
        )
        .map_err(|e| Failure(e.to_string()))?,
    );
    let tour = losskit_tour::run(&config, &mut || bar.inc(1)).map_err(|e| Failure(e.0))?;
    bar.finish_and_clear();
    let text = losskit_tour::text::render(&tour);
    if let Some(dir) = &args.report {
        let path = dir.join("index.html");
        // plotters measures SVG text with a registered font (its `ab_glyph` feature, which
        // `plot` turns on for the whole binary): the bundled one.
        plotters::style::register_font(
            crate::plot::FAMILY,
            plotters::style::FontStyle::Normal,
            crate::plot::FONT,
        )
        .map_err(|_| Failure("tour: the bundled font cannot be read".into()))?;
        fs::create_dir_all(dir)
            .and_then(|()| fs::write(&path, losskit_tour::html::render(&tour, &text)))
            .map_err(|e| Failure(format!("cannot write the report `{}`: {e}", path.display())))?;
        eprintln!("report: {}", path.display());
    }
    if args.json {
        emit(&format!("{}\n", losskit_tour::json::render(&tour)))
    } else {
        emit(&text)
    }
}
