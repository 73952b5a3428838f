//! Tsitouras' 5(4) pair ("Tsit5"): Ch. Tsitouras, *Runge–Kutta pairs of order 5(4) satisfying
//! only the first column simplifying assumption*, Comput. Math. Appl. 62 (2011) 770–775.
//!
//! Seven stages, first same as last (an accepted step costs six evaluations), order 5 with an
//! embedded order-4 estimate, like Dormand–Prince 5(4); the free parameters were chosen to make
//! the principal truncation error of the fifth-order weights small rather than to satisfy the
//! simplifying assumption $\sum_j a_{ij}c_j = c_i^2/2$ for $i \ge 3$. The nodes are
//! $c = (0, 0.161, 0.327, 0.9, c_5, 1, 1)$ with $c_5 \approx 0.98002554$ a root of the order
//! conditions, so the coefficients are algebraic, not rational: they are typed here as decimals
//! with 85 significant digits (the values of OrdinaryDiffEq.jl and diffrax, computed from the
//! paper's construction in extended precision) and read exactly into the number type, so the
//! order conditions hold to the typed digits (checked in exact rationals by the tests).
//!
//! When to choose it over `dp5`/`dp8`: on problems whose step is limited by stability rather than
//! accuracy (a stiff late phase, as in a diagonal network near its sparse solution) and at loose
//! to moderate tolerances (down to about $10^{-10}$), where fewer stages per step win; at tight
//! tolerances on smooth non-stiff flows the eighth-order pair takes far fewer evaluations.

use super::embedded::EmbeddedPair;
use super::tableau::Tableau;
use crate::scalar::{Scalar, Q};

/// The exact value of a decimal literal (`[-]digits[.digits][e[-]digits]`) in the number type of
/// `proto` (exact for `Q`, rounded once otherwise). Panics on a malformed literal: the literals
/// are the constants of this file, checked by the tests.
pub(super) fn decimal<S: Scalar>(proto: &S, s: &str) -> S {
    let (neg, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
    let (mant, exp) = s.split_once(['e', 'E']).map_or((s, 0i32), |(m, e)| (m, e.parse().expect("exponent")));
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    let digits: rug::Integer = format!("{int}{frac}").parse().expect("decimal digits");
    let scale = exp - frac.len() as i32;
    let mut q = Q::from(digits);
    if scale >= 0 {
        q *= Q::from(rug::Integer::from(rug::Integer::u_pow_u(10, scale as u32)));
    } else {
        q /= Q::from(rug::Integer::from(rug::Integer::u_pow_u(10, (-scale) as u32)));
    }
    if neg {
        q = -q;
    }
    proto.from_q_like(&q)
}

/// Lower triangle of $A$ (row `i` has `i` entries; row 7 is $b$, first same as last).
const A: [&[&str]; 7] = [
    &[],
    &["0.161"],
    &[
        "-0.8480655492356988544426874250230774675121177393430391537369234245294192976164141156943e-2",
        "0.3354806554923569885444268742502307746751211773934303915373692342452941929761641411569",
    ],
    &[
        "2.897153057105493432130432594192938764924887287701866490314866693455023795137503079289",
        "-6.359448489975074843148159912383825625952700647415626703305928850207288721235210244366",
        "4.362295432869581411017727318190886861027813359713760212991062156752264926097707165077",
    ],
    &[
        "5.325864828439256604428877920840511317836476253097040101202360397727981648835607691791",
        "-11.74888356406282787774717033978577296188744178259862899288666928009020615663593781589",
        "7.495539342889836208304604784564358155658679161518186721010132816213648793440552049753",
        "-0.9249506636175524925650207933207191611349983406029535244034750452930469056411389539635e-1",
    ],
    &[
        "5.861455442946420028659251486982647890394337666164814434818157239052507339770711679748",
        "-12.92096931784710929170611868178335939541780751955743459166312250439928519268343184452",
        "8.159367898576158643180400794539253485181918321135053305748355423955009222648673734986",
        "-0.7158497328140099722453054252582973869127213147363544882721139659546372402303777878835e-1",
        "-0.2826905039406838290900305721271224146717633626879770007617876201276764571291579142206e-1",
    ],
    &[
        "0.9646076681806522951816731316512876333711995238157997181903319145764851595234062815396e-1",
        "0.01",
        "0.4798896504144995747752495322905965199130404621990332488332634944254542060153074523509",
        "1.379008574103741893192274821856872770756462643091360525934940067397245698027561293331",
        "-3.290069515436080679901047585711363850115683290894936158531296799594813811049925401677",
        "2.324710524099773982415355918398765796109060233222962411944060046314465391054716027841",
    ],
];

/// The embedded fourth-order weights $\hat b_1..\hat b_6$ ($\hat b_7 = 1/66$).
const B_HAT: [&str; 6] = [
    "0.9468075576583945807478876255758922856117527357724631226139574065785592789071067303271e-1",
    "0.9183565540343253096776363936645313759813746240984095238905939532922955247253608687270e-2",
    "0.4877705284247615707855642599631228241516691959761363774365216240304071651579571959813",
    "1.234297566930478985655109673884237654035539930748192848315425833500484878378061439761",
    "-2.707712349983525454881109975059321670689605166938197378763992255714444407154902012702",
    "1.866628418170587035753719399566211498666255505244122593996591602841258328965767580089",
];

/// The nodes $c$.
const C: [&str; 7] = [
    "0",
    "0.161",
    "0.327",
    "0.9",
    "0.9800255409045096857298102862870245954942137979563024768854764293221195950761080302604",
    "1",
    "1",
];

impl<S: Scalar> EmbeddedPair<S> {
    /// Tsitouras 5(4), FSAL, with the coefficients to 85 significant digits (see the module
    /// documentation).
    pub fn tsit5(proto: &S) -> Self {
        let s = C.len();
        let z = proto.zero_like();
        let a: Vec<Vec<S>> = (0..s)
            .map(|i| (0..s).map(|j| A[i].get(j).map_or_else(|| z.clone(), |x| decimal(proto, x))).collect())
            .collect();
        let mut b: Vec<S> = A[6].iter().map(|x| decimal(proto, x)).collect();
        b.push(z.clone());
        EmbeddedPair {
            method: Tableau { a, b, c: C.iter().map(|x| decimal(proto, x)).collect(), order: 5 },
            embedded: B_HAT.iter().map(|x| decimal(proto, x)).chain([proto.ratio_like(1, 66)]).collect(),
            embedded_order: 4,
            embedded3: None,
            fsal: true,
            pi_beta: 0.04,
            name: "tsit5",
        }
    }
}
