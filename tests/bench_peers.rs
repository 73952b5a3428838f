//! `linflow bench --peers DIR`: reading the peers' result files and the ratio table.

use linflow::bench::{peers, Row};

fn row(workload: &str, size: &str, min: f64) -> Row {
    Row {
        workload: workload.into(),
        size: size.into(),
        method: "m".into(),
        wall_median_s: min * 1.1,
        wall_min_s: min,
        rhs_evals: 10,
        us_per_eval: 0.0,
        final_loss: 0.0,
        bal_drift: 0.0,
        extra: String::new(),
    }
}

#[test]
fn ratio_table_uses_the_fastest_peer_of_the_same_workload_and_size() {
    let dir = std::env::temp_dir().join(format!("linflow-peers-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rec = |w: &str, peer: &str, size: &str, min: f64| {
        format!(
            r#"{{"workload": "{w}", "peer": "{peer}", "method": "x", "size": "{size}", "wall_s_median": {}, "wall_s_min": {min}, "rhs_evals": null, "final_loss": 1.0, "bal_drift": null, "notes": ""}}"#,
            min * 2.0
        )
    };
    let a = format!(
        r#"{{"meta": {{}}, "records": [{}, {}, {}]}}"#,
        rec("W3", "diffrax", "n40_d200", 0.30),
        rec("W3", "scipy", "n40_d200", 0.60),
        rec("W2", "heyoka", "3-4-4-2", 0.002)
    );
    std::fs::write(dir.join("a.json"), a).unwrap();
    // A reference file without records is skipped, not an error.
    std::fs::write(dir.join("W2_reference.json"), r#"{"state_t1_flat": ["1"]}"#).unwrap();
    let recs = peers::load(&dir).unwrap();
    assert_eq!(recs.len(), 3);
    let rows = [row("W3", "n40_d200", 0.1), row("W1", "3-4-4-2", 0.004), row("W1", "w8", 1.0)];
    let t = peers::ratio_table(&rows, &recs);
    println!("{t}");
    // W3: the fastest peer (diffrax, 0.30 s) over linflow's 0.1 s is 3.00x; scipy listed beside.
    assert!(t.contains("| W3 | n40_d200 | m | 0.1000 | 10 | diffrax x | 0.3000 | - | 3.00x | scipy x 0.6000 |"), "{t}");
    // linflow's f64 run of W2's network is filed with the W1 rows; the peers file it as W2.
    assert!(t.contains("| W2 | 3-4-4-2 |") && t.contains("0.50x"), "{t}");
    // No peer for W1 w8: no line.
    assert!(!t.contains("w8"), "{t}");
    // A directory without records is an error naming the option.
    std::fs::remove_file(dir.join("a.json")).unwrap();
    let e = peers::load(&dir).unwrap_err().to_string();
    assert!(e.contains("--peers"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
