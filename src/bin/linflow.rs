//! The `linflow` command line.

use clap::{Args, Parser, Subcommand};
use linflow::config::{ExperimentSpec, Limits, PrecisionChoice, RunReport};
use linflow::experiments;
use linflow::sweep::{self, Axis, Grid, Shard};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "linflow", version, about = "Verify the training dynamics of linear networks")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// Number type of a run (default: the file's `precision`).
#[derive(Args, Clone, Copy)]
#[group(multiple = false)]
struct PrecisionArgs {
    /// MPFR with this many bits.
    #[arg(long)]
    bits: Option<u32>,
    /// Exact rational arithmetic.
    #[arg(long)]
    exact: bool,
    /// IEEE double.
    #[arg(long)]
    f64: bool,
}

impl PrecisionArgs {
    fn choice(&self) -> linflow::error::Result<Option<PrecisionChoice>> {
        Ok(match (self.bits, self.exact, self.f64) {
            (Some(b), _, _) => Some(PrecisionChoice::bits(b)?),
            (None, true, _) => Some(PrecisionChoice::Exact),
            (None, false, true) => Some(PrecisionChoice::F64),
            _ => None,
        })
    }
}

/// Resource limits: a run estimated beyond them is refused before it allocates anything.
#[derive(Args, Clone)]
struct LimitArgs {
    /// Memory a run may use, e.g. 16G or 512M.
    #[arg(long, value_name = "SIZE", default_value = "4G")]
    max_memory: String,
    /// Multiply-adds (f64 equivalents) a run may take, e.g. 1e15.
    #[arg(long, value_name = "COUNT", default_value = "1e13")]
    max_ops: String,
}

impl LimitArgs {
    fn limits(&self) -> linflow::error::Result<Limits> {
        Ok(Limits { max_memory: Limits::parse_bytes(&self.max_memory)?, max_ops: Limits::parse_ops(&self.max_ops)? })
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Runs an experiment file and writes DIR/trajectory.json (at the run's precision),
    /// DIR/trajectory.csv (f64) and DIR/summary.json, replacing DIR as a whole (exit 0 when the run
    /// finished, at least one law was checked and every checked law held; 1 otherwise; 2 on bad
    /// input).
    Run {
        /// The experiment file (TOML; format in README.md).
        file: PathBuf,
        /// Output directory.
        #[arg(long, default_value = "out/run")]
        out: PathBuf,
        #[command(flatten)]
        precision: PrecisionArgs,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Runs an experiment file and prints, per invariant, its law, worst deviation, tolerance, how
    /// many checks and items it compared, and its verdict (exit 0 exactly when the run finished, at
    /// least one law was checked and every checked law held; 1 otherwise, e.g. "nothing checked";
    /// 2 on bad input).
    Check {
        /// The experiment file.
        file: PathBuf,
        #[command(flatten)]
        precision: PrecisionArgs,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Runs an experiment file over a grid of values in parallel: one result file per point in
    /// DIR/points/ and the merged table DIR/sweep.csv. With --merge, joins the DIRs of shards.
    Sweep {
        /// The experiment file (not needed with --merge).
        file: Option<PathBuf>,
        /// An axis `key=v1,v2,...` with a dotted key of the file (repeat for a grid).
        #[arg(long = "grid", value_name = "KEY=V1,V2")]
        grid: Vec<String>,
        /// Run only part `i` of `n` (points k with k mod n = i), e.g. a Slurm array task.
        #[arg(long, value_name = "I/N")]
        shard: Option<String>,
        /// Join the point files of these shard directories into DIR/sweep.csv (refused when points
        /// of the grid are missing, unless --allow-partial).
        #[arg(long, num_args = 1.., value_name = "SHARD_DIR")]
        merge: Vec<PathBuf>,
        /// With --merge: accept a set that misses points of the grid.
        #[arg(long)]
        allow_partial: bool,
        /// Output directory.
        #[arg(long, default_value = "out/sweep")]
        out: PathBuf,
    },
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
    /// Counts the conservation laws of gradient flow for the file's [model]: D − dim Lie(W_φ) with
    /// exact ranks at two random rational points, beside the independent balancedness entries
    /// (exit 2 on bad input or an architecture too large to count).
    Laws {
        /// The experiment file.
        file: PathBuf,
        /// Print one JSON object {parameters, lie_dimension, laws, balancedness_laws}.
        #[arg(long)]
        json: bool,
    },
    /// Prints the Hessian's extreme eigenvalues, GD's edge-of-stability step 2/lambda_max and the
    /// step map's spectral radius (heavy ball: its regime) at points of the file's discrete run.
    Stability {
        /// The experiment file (a discrete method: gd, sam, usam, heavy_ball, nesterov).
        file: PathBuf,
        /// Where: `start`, `end` or `every N`.
        #[arg(long, num_args = 1..=2, default_value = "start")]
        at: Vec<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// MPFR with this many bits (default: f64).
        #[arg(long)]
        bits: Option<u32>,
    },
    /// Runs the benchmark workloads W1–W5 of bench/ and prints the table of bench/PEERS.md.
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
        /// Only these workloads (comma-separated: W1, W2, W3, W4, W5, sweep; default all).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Directory of the peers' JSON results from the same sitting: also print the ratio table.
        #[arg(long)]
        peers: Option<PathBuf>,
        /// Instead of W1-W4, run W2 with Taylor's method at these precisions (bits, comma-separated),
        /// each row with its error against the 320-digit reference.
        #[arg(long, value_delimiter = ',')]
        w2_bits: Vec<u32>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Run { file, out, precision, limits } => match run_file(&file, &out, precision, &limits) {
            Ok(report) => {
                print!("{}", report.table());
                println!("wrote {}", out.display());
                status(report.finished_without_failure())
            }
            Err(e) => fail(e),
        },
        Cmd::Check { file, precision, limits } => {
            let spec = limits.limits().and_then(|l| ExperimentSpec::from_file_with(&file, &l));
            match precision.choice().and_then(|p| spec?.run(p)) {
                Ok(report) => {
                    print!("{}", report.table());
                    status(report.passed())
                }
                Err(e) => fail(e),
            }
        }
        Cmd::Sweep { file, grid, shard, merge, allow_partial, out } => {
            match sweep_cmd(file.as_deref(), &grid, shard.as_deref(), (&merge, allow_partial), &out) {
                Ok(failed) => {
                    println!("wrote {}", out.join("sweep.csv").display());
                    status(failed == 0)
                }
                Err(e) => fail(e),
            }
        }
        Cmd::Laws { file, json } => match laws_cmd(&file, json) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        },
        Cmd::Stability { file, at, json, bits } => match stability_cmd(&file, &at, bits) {
            Ok(reports) => {
                if json {
                    println!("{}", serde_json::to_string_pretty(&reports).unwrap_or_default());
                } else {
                    print!("{}", linflow::stability::table(&reports));
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        Cmd::List => {
            for e in experiments::all() {
                println!("{:<24} {}", e.name, e.about);
            }
            ExitCode::SUCCESS
        }
        Cmd::Bench { dir, reps, json, w2_bits, .. } if !w2_bits.is_empty() => {
            match linflow::bench::w2_precision::run(&dir, &w2_bits, reps) {
                Ok(rows) => {
                    if json {
                        println!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default());
                    } else {
                        print!("{}", linflow::bench::w2_precision::table(&rows));
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Cmd::Bench { dir, reps, json, only, peers, .. } => match linflow::bench::run_selected(&dir, reps, &only) {
            Ok(report) => {
                if json {
                    println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
                } else {
                    print!("{}", report.table());
                }
                if let Some(pdir) = peers {
                    match linflow::bench::peers::load(&pdir) {
                        Ok(recs) => print!("\n{}", linflow::bench::peers::ratio_table(&report.rows, &recs)),
                        Err(e) => {
                            eprintln!("error: {e}");
                            return ExitCode::from(2);
                        }
                    }
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

fn status(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn fail(e: linflow::error::Error) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(2)
}

/// Runs `file` and writes its trajectory and summary into `out`, as a whole: see [`write_run_dir`].
fn run_file(
    file: &Path,
    out: &Path,
    precision: PrecisionArgs,
    limits: &LimitArgs,
) -> linflow::error::Result<RunReport> {
    let spec = ExperimentSpec::from_file_with(file, &limits.limits()?)?;
    let report = spec.run(precision.choice()?)?;
    write_run_dir(out, &report)?;
    if !report.trajectory.outcome.is_done() {
        eprintln!(
            "stopped: {:?}; the last finite state is the last one in {}",
            report.trajectory.outcome,
            out.join("trajectory.json").display()
        );
    }
    Ok(report)
}

/// The files `run` writes.
const RUN_FILES: [&str; 3] = ["trajectory.json", "trajectory.csv", "summary.json"];

/// Writes a run's files into a fresh sibling directory and renames it into place, so a reader of
/// `out` sees either the previous run's files or this run's, never a mix; temporaries left by an
/// interrupted run (`.NAME.tmp-*`, `.NAME.old-*` beside `out`, `.*.tmp*` inside) are removed first.
/// A directory holding files `run` did not write is not replaced.
fn write_run_dir(out: &Path, report: &RunReport) -> linflow::error::Result<()> {
    use linflow::error::Error;
    let io = |p: &Path| {
        let p = p.display().to_string();
        move |source| Error::Io { path: p, source }
    };
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "run".into());
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    for e in std::fs::read_dir(parent).map_err(io(parent))?.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with(&format!(".{name}.tmp-")) || n.starts_with(&format!(".{name}.old-")) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    if out.exists() {
        for e in std::fs::read_dir(out).map_err(io(out))?.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with('.') && n.contains(".tmp") {
                let _ = std::fs::remove_file(e.path());
            } else if !RUN_FILES.contains(&n.as_str()) {
                return Err(Error::invalid(
                    "out",
                    format!("{} holds {n}, which `run` did not write: choose another --out", out.display()),
                ));
            }
        }
    }
    let pid = std::process::id();
    let tmp = parent.join(format!(".{name}.tmp-{pid}"));
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    linflow::report::write_json(&tmp.join("trajectory.json"), &report.text)?;
    linflow::report::write_atomic(&tmp.join("trajectory.csv"), report.trajectory.to_csv().as_bytes())?;
    linflow::report::write_json(&tmp.join("summary.json"), &report.summary())?;
    let old = parent.join(format!(".{name}.old-{pid}"));
    if out.exists() {
        std::fs::rename(out, &old).map_err(io(out))?;
    }
    std::fs::rename(&tmp, out).map_err(io(out))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

/// Counts the laws of the file's architecture and prints them (as text or one JSON object).
fn laws_cmd(file: &Path, json: bool) -> linflow::error::Result<()> {
    use linflow::conservation::{count_laws, CountOptions};
    let arch = ExperimentSpec::from_file(file)?.arch;
    let c = count_laws(&arch, &CountOptions::default())?;
    if json {
        let v = serde_json::json!({
            "parameters": c.parameters,
            "lie_dimension": c.lie_dimension,
            "laws": c.laws,
            "balancedness_laws": c.balancedness_laws,
        });
        println!("{v}");
        return Ok(());
    }
    println!("architecture:      {}", c.arch);
    println!("parameters:        {}", c.parameters);
    println!(
        "lie_dimension:     {} (dim W_phi {}; by bracket level {:?})",
        c.lie_dimension, c.span_dimension, c.rank_by_level
    );
    println!("laws:              {}", c.laws);
    println!("balancedness_laws: {} (independent, of {} entries)", c.balancedness_laws, c.balancedness_entries);
    if c.balancedness_complete() {
        println!("the balancedness entries account for every law");
    } else {
        println!(
            "laws and balancedness_laws differ: {} law(s) are not functions of the balancedness entries",
            c.laws - c.balancedness_laws
        );
    }
    println!(
        "exact ranks at {} random rational points (Lie dimensions {:?}); each under-counts with probability at most \
         {:.1e}; {:.3} s",
        c.dimension_at_points.len(),
        c.dimension_at_points,
        c.failure_bound_per_point,
        c.seconds
    );
    Ok(())
}

/// The stability reports of `file`'s discrete run, in f64 or at `bits` bits.
fn stability_cmd(
    file: &Path,
    at: &[String],
    bits: Option<u32>,
) -> linflow::error::Result<Vec<linflow::stability::PointReport>> {
    let spec = ExperimentSpec::from_file(file)?;
    let at = linflow::stability::At::parse(at)?;
    match bits {
        None => linflow::stability::from_spec(&spec, &0.0f64, at),
        Some(b) => {
            PrecisionChoice::bits(b)?;
            linflow::stability::from_spec(&spec, &linflow::scalar::Mp::new(b), at)
        }
    }
}

/// Runs or merges a sweep; returns the number of points that failed.
fn sweep_cmd(
    file: Option<&Path>,
    axes: &[String],
    shard: Option<&str>,
    (merge, allow_partial): (&[PathBuf], bool),
    out: &Path,
) -> linflow::error::Result<usize> {
    use linflow::error::Error;
    let results = if !merge.is_empty() {
        sweep::merge(merge, allow_partial)?
    } else {
        let file = file.ok_or_else(|| Error::invalid("file", "a sweep needs an experiment file (or --merge DIRS)"))?;
        let text =
            std::fs::read_to_string(file).map_err(|source| Error::Io { path: file.display().to_string(), source })?;
        let base: toml::Table = text.parse().map_err(|e: toml::de::Error| Error::Config {
            path: file.display().to_string(),
            message: format!("not valid TOML: {e}"),
        })?;
        let grid = Grid::new(axes.iter().map(|a| Axis::parse(a)).collect::<linflow::error::Result<_>>()?);
        let shard = shard.map(Shard::parse).transpose()?;
        // Check the first point before spreading out, so a bad file fails once and clearly.
        ExperimentSpec::from_table(&grid.point(&base, 0)?, "sweep")?;
        let stem = file.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
        sweep::run(&base, &grid, shard, out, |doc| sweep::run_point(doc, &stem))?
    };
    sweep::write_table(out, &results)?;
    Ok(results.iter().filter(|r| r.result.is_err()).count())
}
