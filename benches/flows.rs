//! Flow benchmarks on the inputs the peers used (bench/inputs, see bench/PEERS.md):
//!
//! * W1: `f64` gradient flow of a depth-4 network at widths 32 and 128, Dop853 with rtol 1e-10,
//!   atol 1e-12, to t = 10;
//! * W2: the 3-4-4-2 network at 256 bits to t = 1 with GBS at tolerance 1e-66, whose state agrees
//!   with the 60-digit reference to 1e-60 (checked before timing);
//! * the bare gradient at width 32 and 128, to separate the cost of `ode_solvers`' state copies
//!   from the gradient itself.
//!
//! Each workload prints its right-hand-side evaluations once, so time per evaluation can be read
//! off the criterion report. `cargo bench --bench flows`.

use criterion::{criterion_group, criterion_main, Criterion};
use linflow::bench::DeepInputs;
use linflow::prelude::*;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("bench")
}

fn w1(size: &str) -> (Model<f64>, Params<f64>) {
    let inputs = DeepInputs::load(&dir().join(format!("inputs/W1_{size}.json"))).expect("W1 inputs");
    (inputs.model().expect("W1 model"), inputs.params())
}

fn dop853_w1(model: &Model<f64>, p0: &Params<f64>) -> Trajectory<f64> {
    let opts = SolveOptions { t1: 10.0, save_times: vec![] };
    let integ = Integrator::Dop853 { rtol: 1e-10, atol: 1e-12 };
    solve(&mut GradientFlow::new(model), model, p0, &integ, &opts, &mut Monitor::new()).expect("W1 flow")
}

fn w2_flow(model: &Model<Mp>, p0: &Params<Mp>) -> Trajectory<Mp> {
    let opts = SolveOptions { t1: 1.0, save_times: vec![] };
    let integ = Integrator::Gbs { rtol: 1e-66, atol: 1e-66 };
    solve(&mut GradientFlow::new(model), model, p0, &integ, &opts, &mut Monitor::new()).expect("W2 flow")
}

fn w2_error(traj: &Trajectory<Mp>) -> f64 {
    let text = std::fs::read_to_string(dir().join("W2_reference.json")).expect("W2 reference");
    let v: serde_json::Value = serde_json::from_str(&text).expect("W2 reference json");
    let refs = v["state_t1_flat"].as_array().expect("state_t1_flat");
    traj.last()
        .iter()
        .zip(refs)
        .map(|(a, r)| {
            let r = Mp::with_val(256, Mp::parse(r.as_str().expect("string")).expect("number"));
            (a.clone() - r).abs().to_f64()
        })
        .fold(0.0, f64::max)
}

fn flows(c: &mut Criterion) {
    let mut g = c.benchmark_group("flows");
    g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    for size in ["w32", "w128"] {
        let (model, p0) = w1(size);
        let t = dop853_w1(&model, &p0);
        println!(
            "W1 {size} dop853: {} evaluations, final loss {:.10}, balancedness drift {:.2e}",
            t.grad_calls,
            t.loss.last().copied().unwrap_or(f64::NAN),
            linflow::bench::bal_drift(&model, &p0, t.last())
        );
        g.bench_function(format!("W1_{size}_dop853_t10"), |b| b.iter(|| black_box(dop853_w1(&model, &p0))));
        let mut ws = model.workspace(&0.0);
        let mut out = p0.zeros_like();
        g.bench_function(format!("W1_{size}_gradient"), |b| {
            b.iter(|| black_box(model.grad_into(&mut ws, black_box(&p0), None, &mut out)))
        });
    }
    let inputs = DeepInputs::load(&dir().join("inputs/W2.json")).expect("W2 inputs");
    let p = Mp::new(256);
    let (model, p0) = (inputs.model().expect("W2 model").cast(&p), inputs.params().cast(&p));
    let t = w2_flow(&model, &p0);
    let err = w2_error(&t);
    println!("W2 256-bit gbs: {} evaluations, max error vs 60-digit reference {err:.2e}", t.grad_calls);
    assert!(err <= 1e-60, "W2 misses the reference: {err:e}");
    g.bench_function("W2_mp256_gbs_1e-66", |b| b.iter(|| black_box(w2_flow(&model, &p0))));
    g.finish();
}

criterion_group!(benches, flows);
criterion_main!(benches);
