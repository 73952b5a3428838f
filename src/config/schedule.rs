//! `[run] save`: which states a run keeps, read exactly and validated before any list is built.

use super::section::{bad, num, Section};
use crate::error::Result;
use crate::scalar::Q;
use crate::trajectory::Save;

/// A save schedule as written in the file (times exact).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum SaveSpec {
    /// Every `n ≥ 1` steps (`"all"`: `n = 1`).
    Every(u64),
    /// About `count ≥ 1` log-spaced points.
    Log(u64),
    /// At these times, increasing, each `≥ 0`.
    Times(Vec<Q>),
    /// Only the initial and the final state.
    Final,
}

impl SaveSpec {
    /// Reads `[run] save` (absent: every step).
    pub(crate) fn read(r: &Section) -> Result<Self> {
        let field = r.field("save");
        let positive = |s: &Section, key: &str| -> Result<u64> {
            let f = s.field(key);
            match s.get(key) {
                Some(toml::Value::Integer(i)) if *i >= 1 => Ok(*i as u64),
                Some(v) => Err(bad(&f, format!("expected an integer >= 1, got {v}"))),
                None => Err(bad(&f, "missing")),
            }
        };
        Ok(match r.get("save") {
            None => SaveSpec::Every(1),
            Some(toml::Value::String(s)) if s == "all" => SaveSpec::Every(1),
            Some(toml::Value::String(s)) if s == "final" => SaveSpec::Final,
            Some(toml::Value::Table(t)) => {
                let s = Section::new(&field, t);
                let keys: Vec<&str> = ["every", "log", "times"].into_iter().filter(|k| t.contains_key(*k)).collect();
                let out = match keys.as_slice() {
                    ["every"] => SaveSpec::Every(positive(&s, "every")?),
                    ["log"] => SaveSpec::Log(positive(&s, "log")?),
                    ["times"] => {
                        let tf = s.field("times");
                        let list = s
                            .get("times")
                            .and_then(|v| v.as_array())
                            .ok_or_else(|| bad(&tf, "expected an array of numbers"))?;
                        let times = list
                            .iter()
                            .enumerate()
                            .map(|(k, x)| num(&format!("{tf}[{k}]"), x))
                            .collect::<Result<Vec<_>>>()?;
                        if let Some(t) = times.iter().find(|t| t.cmp0() == std::cmp::Ordering::Less) {
                            return Err(bad(&tf, format!("times must be >= 0, got {}", super::numbers::short(t))));
                        }
                        if times.windows(2).any(|w| w[0] > w[1]) {
                            return Err(bad(&tf, "times must be increasing"));
                        }
                        SaveSpec::Times(times)
                    }
                    [] => return Err(bad(&field, "expected { every = n }, { log = n } or { times = [..] }")),
                    more => return Err(bad(&field, format!("give one of every, log, times; got {}", more.join(", ")))),
                };
                s.finish()?;
                out
            }
            Some(v) => {
                return Err(bad(
                    &field,
                    format!(
                        "expected \"all\", \"final\", {{ every = n }}, {{ log = n }} or {{ times = [..] }}, got {v}"
                    ),
                ))
            }
        })
    }

    /// The number of states a run keeps at most (the initial and final ones included): with
    /// `steps` known (discrete runs, fixed-step flows) at most one per step; with an adaptive
    /// integrator (`None`) one per requested point.
    pub(crate) fn count(&self, steps: Option<f64>) -> f64 {
        match (self, steps) {
            (SaveSpec::Every(n), Some(steps)) => (steps / *n as f64).floor() + 2.0,
            (SaveSpec::Every(_), None) => 102.0,
            (SaveSpec::Log(c), Some(steps)) => (*c as f64).min(steps + 1.0) + 2.0,
            (SaveSpec::Log(c), None) => *c as f64 + 2.0,
            (SaveSpec::Times(t), _) => t.len() as f64 + 2.0,
            (SaveSpec::Final, _) => 2.0,
        }
    }

    /// The schedule of a discrete run of `steps` steps (times rounded to `f64`, as steps are
    /// found from them; at most one log-spaced save per step).
    pub(crate) fn discrete(&self, steps: usize) -> Save {
        match self {
            SaveSpec::Every(n) => Save::Every { n: (*n).min(usize::MAX as u64) as usize },
            SaveSpec::Log(c) => Save::LogSpaced { count: (*c).min(steps as u64 + 1) as usize },
            SaveSpec::Times(t) => Save::Times { times: t.iter().map(Q::to_f64).collect() },
            SaveSpec::Final => Save::FinalOnly,
        }
    }
}
