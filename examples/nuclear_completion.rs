//! Iterations, Newton-polish steps, certified duality gap and wall time of the minimum nuclear
//! norm completion on the `dmf-completion` instances (100×100, rank 5, Frobenius norm 100).
//!
//! `cargo run --release --example nuclear_completion [-- k1,k2,... [seeds] [--polish]]`

use linflow::completion::{min_nuclear_norm_completion, NuclearOptions};
use linflow::experiments::dmf_completion::{problem, Setting};
use std::time::Instant;

fn main() -> linflow::error::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let ks: Vec<usize> = args
        .get(1)
        .map_or("500,1000,2000,5000", String::as_str)
        .split(',')
        .map(|k| k.parse().expect("k must be an integer"))
        .collect();
    let seeds: u64 = args.get(2).map_or(3, |s| s.parse().expect("seeds must be an integer"));
    let polish = args.iter().any(|a| a == "--polish");
    let s = Setting::new(false);
    let opts = NuclearOptions { polish_after: if polish { Some(200) } else { None }, ..NuclearOptions::default() };
    println!(
        "{:>5} {:>4} {:>6} {:>6} {:>10} {:>9} {:>6} {:>9}",
        "k", "seed", "iters", "newton", "rel_gap", "conv", "rank", "wall_s"
    );
    println!("(rank: of the certified completion at 1e-8 relative; prank: rank of the last polish attempt)");
    for &k in &ks {
        for seed in 0..seeds {
            let prob = problem(&s, k, seed)?;
            let t = Instant::now();
            let sol = min_nuclear_norm_completion(prob.truth.shape(), &prob.entries, &opts)?;
            let wall = t.elapsed().as_secs_f64();
            let sv = linflow::completion::singular_values(&sol.x)?;
            let rank = sv.iter().filter(|&&v| v > 1e-8 * sv[0]).count();
            println!(
                "{k:>5} {seed:>4} {:>6} {:>6} {:>10.2e} {:>9} {rank:>6} {wall:>9.2} prank {}",
                sol.iterations, sol.polish_steps, sol.rel_gap, sol.converged, sol.polish_rank
            );
        }
    }
    Ok(())
}
