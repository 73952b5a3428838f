//! `conservation-laws`: the number of conservation laws of gradient flow, counted exactly
//! (Marcotte, Gribonval, Peyré, NeurIPS 2023), against the balancedness quantities.
//!
//! Their numerical test draws 50 deep linear networks (depth 2–4, widths 2–5) and asserts that
//! $D - \dim\mathrm{Lie}(W_\varphi)$ equals the number of independent balancedness entries. It is
//! rerun here in exact arithmetic (with linflow's own seeded draw of the 50 architectures), together
//! with architectures outside that range: width-1 layers, scalar outputs, wide hidden layers, the
//! diagonal and two-factor models. Where the laws outnumber the balancedness entries, a search for
//! polynomial laws of low degree looks for the extra ones.

use super::{Check, Experiment, Recipe};
use crate::compare::nan_max;
use crate::conservation::maps::{balancedness, generators, parameter_count, variable_names};
use crate::conservation::search::{conserved_forms, monomial_count};
use crate::conservation::{count_laws, lie::gradient_rank_at, random_point, CountOptions, LawCount};
use crate::error::Result;
use crate::model::Arch;
use crate::report::{Figure, Series, Style};
use rand::Rng;

/// Number of architectures of the random test (as in Marcotte et al.).
pub const RANDOM_ARCHS: usize = 50;

/// One counted architecture.
#[derive(Clone, Debug)]
pub struct Row {
    /// The architecture.
    pub arch: Arch,
    /// The count.
    pub count: LawCount,
    /// The number of laws that theory predicts for it, with the reason, when there is one.
    pub predicted: Option<(usize, &'static str)>,
}

/// A polynomial law independent of the balancedness entries.
#[derive(Clone, Debug)]
pub struct ExtraLaw {
    /// The architecture.
    pub arch: String,
    /// The law, written with the parameter names.
    pub law: String,
    /// Its degree.
    pub degree: u32,
    /// Whether $\nabla\varphi_i(h) \equiv 0$ was confirmed for every generator (symbolically).
    pub verified: bool,
}

/// What the experiment measured.
#[derive(Clone, Debug)]
pub struct Measured {
    /// The random deep linear networks.
    pub random: Vec<Row>,
    /// Random architectures above the cost limit ([`crate::conservation::DEFAULT_MAX_COST`]), not counted.
    pub refused: Vec<Arch>,
    /// Architectures outside that range.
    pub outside: Vec<Row>,
    /// Extra polynomial laws found where laws outnumber balancedness entries.
    pub extra: Vec<ExtraLaw>,
    /// Architectures searched for extra laws, with the degrees searched and how many were found.
    pub searched: Vec<(String, Vec<u32>, usize)>,
    /// Wall-clock seconds of the whole measurement.
    pub seconds: f64,
}

/// The seeded random architectures: depth $N$ uniform on `2..=max_depth`, each of the $N+1$
/// widths uniform on `2..=max_width` (Marcotte et al.: 4 and 5).
pub fn random_architectures(n: usize, max_depth: usize, max_width: usize, seed: u64) -> Vec<Arch> {
    let mut rng = crate::data::rng(seed);
    (0..n)
        .map(|_| {
            let depth: usize = rng.random_range(2..=max_depth);
            let widths: Vec<usize> = (0..=depth).map(|_| rng.random_range(2..=max_width)).collect();
            Arch::DeepLinear { widths }
        })
        .collect()
}

/// The number of laws predicted by theory, when known:
/// - two-layer networks $UV^\top$, $U \in \mathbb{R}^{n\times r}$, $V\in\mathbb{R}^{m\times r}$:
///   with $n + m \ge r$ the $r(r+1)/2$ entries of $U^\top U - V^\top V$ (Marcotte et al., two-layer
///   case). With $k = \min(n+m, r)$ in general, $kr - k(k-1)/2$: $C = U^\top U - V^\top V$ ranges
///   over an open part of the symmetric $r\times r$ matrices of rank $\le k$, a set of that
///   dimension (the number of laws equal to it is what is checked);
/// - a scalar map $\varphi$: $W_\varphi$ is spanned by one field, its Lie algebra is that line, so $D-1$;
/// - diagonal networks: one law per coordinate, $d$.
pub fn predicted(arch: &Arch) -> Option<(usize, &'static str)> {
    let d = parameter_count(arch);
    let (or, oc) = arch.output_shape();
    if or * oc == 1 {
        return Some((d - 1, "scalar map: Lie(W_phi) is one line, D - 1 laws"));
    }
    match arch {
        Arch::DeepLinear { widths } if widths.len() == 3 => Some(two_layer(widths[0] + widths[2], widths[1])),
        Arch::Factor { d1, d2, r } => Some(two_layer(d1 + d2, *r)),
        Arch::DiagonalUV { d } | Arch::DiagonalSq { d } => Some((*d, "diagonal: one law per coordinate")),
        _ => None,
    }
}

/// $kr - k(k-1)/2$ with $k = \min(n+m, r)$.
fn two_layer(n_plus_m: usize, r: usize) -> (usize, &'static str) {
    let k = n_plus_m.min(r);
    (
        k * r - k * (k - 1) / 2,
        if n_plus_m >= r {
            "two layers, n + m >= r: r(r+1)/2"
        } else {
            "two layers, n + m < r: k r - k(k-1)/2, k = n + m"
        },
    )
}

/// Architectures outside the random test's range.
pub fn outside_architectures(quick: bool) -> Vec<Arch> {
    let deep = |w: &[usize]| Arch::DeepLinear { widths: w.to_vec() };
    let mut v = vec![
        // width-1 layers
        deep(&[1, 1, 1]),
        deep(&[1, 1, 1, 1]),
        deep(&[3, 1, 3]),
        deep(&[2, 1, 2, 2]),
        deep(&[2, 2, 1, 2]),
        // scalar outputs
        deep(&[3, 2, 1]),
        deep(&[1, 2, 2, 1]),
        deep(&[1, 3, 1]),
        deep(&[2, 3, 3, 1]),
        // wide hidden layers
        deep(&[2, 6, 2]),
        deep(&[1, 4, 1]),
        // other models
        Arch::DiagonalUV { d: 4 },
        Arch::DiagonalSq { d: 4 },
        Arch::Factor { d1: 3, d2: 2, r: 2 },
        Arch::Factor { d1: 2, d2: 2, r: 3 },
        Arch::FactorOp { d: 3 },
    ];
    if !quick {
        v.extend([
            deep(&[2, 8, 2]),
            deep(&[2, 5, 5, 2]),
            deep(&[3, 7, 7, 3]),
            deep(&[1, 3, 3, 3, 1]),
            Arch::Factor { d1: 1, d2: 1, r: 3 },
        ]);
    }
    v
}

fn row(arch: Arch, opts: &CountOptions) -> Result<Row> {
    let count = count_laws(&arch, opts)?;
    let predicted = predicted(&arch);
    Ok(Row { arch, count, predicted })
}

/// Polynomial laws of degree 2..=`max_degree` whose gradients raise the rank beyond the
/// balancedness entries (each checked to be conserved by re-applying every generator).
fn extra_laws(arch: &Arch, max_degree: u32) -> Result<(Vec<u32>, Vec<ExtraLaw>)> {
    let d = parameter_count(arch);
    let gens = generators(arch);
    let names = variable_names(arch);
    let points: Vec<_> = {
        let mut rng = crate::data::rng(77);
        (0..2).map(|_| random_point(d, 64, &mut rng)).collect()
    };
    let mut known = balancedness(arch);
    let rank_of =
        |ps: &[crate::conservation::poly::Poly]| points.iter().map(|p| gradient_rank_at(ps, p)).max().unwrap_or(0);
    let mut base_rank = rank_of(&known);
    let mut degrees = Vec::new();
    let mut out = Vec::new();
    for m in 2..=max_degree {
        if monomial_count(d, m) > MAX_UNKNOWNS as f64 {
            break;
        }
        degrees.push(m);
        for h in conserved_forms(&gens, d, m, MAX_UNKNOWNS)? {
            let mut trial = known.clone();
            trial.push(h.clone());
            let r = rank_of(&trial);
            if r > base_rank {
                let verified = gens.iter().all(|g| h.along(g).is_zero());
                out.push(ExtraLaw { arch: arch.name(), law: h.to_string_with(&names), degree: m, verified });
                known = trial;
                base_rank = r;
            }
        }
    }
    Ok((degrees, out))
}

/// Largest number of unknown coefficients in the polynomial-law search.
const MAX_UNKNOWNS: usize = 800;

/// Counts the laws of the random and outside architectures (quick: 10 random ones of depth 2–3
/// and widths 2–3, and no wide four-layer networks).
pub fn measure(quick: bool) -> Result<Measured> {
    let start = std::time::Instant::now();
    let opts = CountOptions::default();
    let drawn =
        if quick { random_architectures(10, 3, 3, 2023) } else { random_architectures(RANDOM_ARCHS, 4, 5, 2023) };
    // Architectures above the cost limit are recorded, not counted.
    let (mut random, mut refused) = (Vec::new(), Vec::new());
    for a in drawn {
        if crate::conservation::check_size(&a, opts.max_cost).is_err() {
            refused.push(a);
        } else {
            random.push(row(a, &opts)?);
        }
    }
    let outside = outside_architectures(quick).into_iter().map(|a| row(a, &opts)).collect::<Result<Vec<_>>>()?;
    let mut extra = Vec::new();
    let mut searched = Vec::new();
    for r in random.iter().chain(&outside) {
        if r.count.laws > r.count.balancedness_laws {
            let (degrees, found) = extra_laws(&r.arch, 4)?;
            searched.push((r.arch.name(), degrees, found.len()));
            extra.extend(found);
        }
    }
    Ok(Measured { random, refused, outside, extra, searched, seconds: start.elapsed().as_secs_f64() })
}

/// The claims.
pub fn checks(m: &Measured) -> Vec<Check> {
    let all: Vec<&Row> = m.random.iter().chain(&m.outside).collect();
    let mismatched = m.random.iter().filter(|r| !r.count.balancedness_complete()).count();
    let below = all.iter().filter(|r| r.count.laws < r.count.balancedness_laws).count();
    let with_prediction: Vec<&&Row> = all.iter().filter(|r| r.predicted.is_some()).collect();
    let wrong = with_prediction.iter().filter(|r| r.predicted.map(|p| p.0) != Some(r.count.laws)).count();
    let disagree =
        all.iter().filter(|r| r.count.dimension_at_points.iter().any(|&x| x != r.count.lie_dimension)).count();
    let unverified = m.extra.iter().filter(|e| !e.verified).count();
    let bound = nan_max(all.iter().map(|r| r.count.failure_bound_per_point));
    vec![
        Check::at_most(
            "random-linear-laws-are-balancedness",
            format!(
                "Marcotte et al.'s test: for {} random deep linear networks (depth 2-4, widths 2-5; {} more above the \
                 cost limit not counted), D - dim Lie(W_phi) equals the number of independent balancedness entries; \
                 count of mismatches (exact ranks, so 0 allowed)",
                m.random.len(),
                m.refused.len()
            ),
            mismatched as f64,
            0.0,
        ),
        Check::at_most(
            "laws-at-least-balancedness",
            "every balancedness entry is a law, so laws >= balancedness_laws on every architecture; count of \
             violations (exact, 0 allowed)",
            below as f64,
            0.0,
        ),
        Check::at_most(
            "predicted-counts",
            format!(
                "{} architectures with a theoretical count (two layers: r(r+1)/2 when n + m >= r, else k r - k(k-1)/2 \
                 with k = n + m; scalar map: D - 1; diagonal: d); count of mismatches (exact, 0 allowed)",
                with_prediction.len()
            ),
            wrong as f64,
            0.0,
        ),
        Check::at_most(
            "two-points-agree",
            format!(
                "the two independent random points give the same Lie dimension (each under-counts with probability at \
                 most {bound:.1e} by Schwartz-Zippel); count of disagreements (0 allowed)"
            ),
            disagree as f64,
            0.0,
        ),
        Check::at_most(
            "extra-laws-verified",
            "every exhibited extra law h satisfies grad phi_i(h) = 0 identically (symbolic, exact); unverified count \
             (0 allowed)",
            unverified as f64,
            0.0,
        ),
    ]
}

/// Laws found against balancedness laws (one point per architecture), and run time against $D$.
pub fn figures(m: &Measured) -> Vec<Figure> {
    let pts = |rows: &[Row]| -> Vec<(f64, f64)> {
        rows.iter().map(|r| (r.count.balancedness_laws as f64, r.count.laws as f64)).collect()
    };
    let top = m.random.iter().chain(&m.outside).map(|r| r.count.laws).max().unwrap_or(1) as f64;
    let counts = Figure::new(
        "laws_vs_balancedness",
        "Conservation laws counted exactly vs independent balancedness entries",
        "independent balancedness entries",
        "D - dim Lie(W_phi)",
    )
    .with(Series::points("random deep linear (depth 2-4, widths 2-5)", pts(&m.random)))
    .with(Series::points("outside that range", pts(&m.outside)))
    .with(Series::line("equal", vec![(0.0, 0.0), (top, top)]).styled(Style::Dashed));
    let times = |rows: &[Row]| -> Vec<(f64, f64)> {
        rows.iter().map(|r| (r.count.parameters as f64, r.count.seconds.max(1e-6))).collect()
    };
    let time = Figure::new("laws_time", "Time of an exact count (two points)", "parameters D", "seconds")
        .log_y()
        .with(Series::points("random deep linear", times(&m.random)))
        .with(Series::points("outside that range", times(&m.outside)));
    vec![counts, time]
}

/// Remarks on a measurement: measured values worth reading, where a claim does not apply.
pub fn notes(m: &Measured) -> Vec<String> {
    let mut v = Vec::new();
    v.push(format!("measurement took {:.2} s in all", m.seconds));
    if !m.refused.is_empty() {
        v.push(format!(
            "{} random architectures were above the cost limit and not counted: {}",
            m.refused.len(),
            m.refused.iter().map(Arch::name).collect::<Vec<_>>().join("; ")
        ));
    }
    for r in m.random.iter().chain(&m.outside) {
        let c = &r.count;
        v.push(format!(
            "{}: D = {}, dim W_phi = {}, dim Lie by level {:?}, laws {}, balancedness {} of {} entries{}{}; {:.3} s",
            c.arch,
            c.parameters,
            c.span_dimension,
            c.rank_by_level,
            c.laws,
            c.balancedness_laws,
            c.balancedness_entries,
            if c.balancedness_complete() { "" } else { " (LAWS DIFFER)" },
            r.predicted.map(|p| format!(", predicted {} ({})", p.0, p.1)).unwrap_or_default(),
            c.seconds
        ));
    }
    let max_level = m.random.iter().map(|r| r.count.rank_by_level.len()).max().unwrap_or(0);
    v.push(format!(
        "bracket levels needed by the random networks: at most {} (the last level only confirms that nothing is added)",
        max_level
    ));
    for (a, degrees, n) in &m.searched {
        v.push(format!("{a}: searched polynomial laws of degrees {degrees:?}; {n} independent of balancedness found"));
    }
    for e in &m.extra {
        v.push(format!("extra law of {} (degree {}): {}", e.arch, e.degree, e.law));
    }
    v
}

const RECIPE: Recipe<Measured> = Recipe {
    name: "conservation-laws",
    description:
        "Number of conservation laws of gradient flow, D - dim Lie(W_phi), counted with exact ranks at two random \
         rational points, against the independent balancedness entries",
    measure,
    checks,
    figures,
    notes,
};

/// The experiment.
pub fn experiments() -> Vec<Experiment> {
    vec![Experiment {
        name: RECIPE.name,
        about: "conservation laws of gradient flow counted exactly (Marcotte et al. 2023) vs balancedness",
        run: |ctx| RECIPE.run(ctx),
    }]
}
