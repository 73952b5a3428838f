//! The `linflow` command line.

use clap::{Parser, Subcommand};
use linflow::experiments;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "linflow", version, about = "Verify the training dynamics of linear networks")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Lists the named experiments.
    List,
    /// Runs a named experiment (or `all`) and writes DIR/NAME/summary.json and its figures.
    Reproduce {
        /// Experiment name, or `all`.
        name: String,
        /// Output directory.
        #[arg(long, default_value = "out")]
        out: PathBuf,
        /// Reduced sizes.
        #[arg(long)]
        quick: bool,
    },
    /// Runs the benchmark workloads W1–W4 of bench/ and prints the table of bench/PEERS.md.
    Bench {
        /// Directory holding the workload specs and inputs.
        #[arg(long, default_value = "bench")]
        dir: PathBuf,
        /// Repetitions after the warm-up.
        #[arg(long, default_value_t = 5)]
        reps: usize,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::List => {
            for e in experiments::all() {
                println!("{:<24} {}", e.name, e.about);
            }
            ExitCode::SUCCESS
        }
        Cmd::Bench { dir, reps, json } => match linflow::bench::run_all(&dir, reps) {
            Ok(report) => {
                if json {
                    println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
                } else {
                    print!("{}", report.table());
                }
                if report.all_checks_pass() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Cmd::Reproduce { name, out, quick } if name == "all" => match experiments::reproduce_all(&out, quick, true) {
            Ok(index) => {
                for e in &index.experiments {
                    println!(
                        "{:<5} {:<28} {}/{} checks",
                        e.status.to_uppercase(),
                        e.name,
                        e.checks_passed,
                        e.checks_total
                    );
                    if let Some(err) = &e.error {
                        eprintln!("error: {}: {err}", e.name);
                    }
                }
                println!("index: {}", out.join("index.md").display());
                if index.passed() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Cmd::Reproduce { name, out, quick } => {
            let names: Vec<&str> =
                if name == "all" { experiments::all().iter().map(|e| e.name).collect() } else { vec![name.as_str()] };
            let mut failed = false;
            for n in names {
                match experiments::reproduce(n, &out, quick) {
                    Ok(s) => {
                        for c in &s.checks {
                            println!(
                                "{} {n}: {} observed {:e} tolerance {:e}",
                                if c.pass { "PASS" } else { "FAIL" },
                                c.name,
                                c.observed,
                                c.tolerance
                            );
                        }
                        failed |= !s.passed();
                    }
                    Err(e) => {
                        eprintln!("error: {n}: {e}");
                        return ExitCode::from(2);
                    }
                }
            }
            if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}
