//! One section of an experiment file: typed reads that name the offending key in every error,
//! and a final check that no key was left unread (a misspelt key is an error, not a default).

use super::numbers::parse_number;
use crate::error::{Error, Result};
use crate::mat::Mat;
use crate::scalar::Q;
use std::cell::RefCell;
use std::collections::BTreeSet;

/// One section of a TOML file, remembering which keys were read so unknown keys are reported.
pub(crate) struct Section<'a> {
    path: String,
    table: &'a toml::Table,
    used: RefCell<BTreeSet<String>>,
}

pub(crate) fn bad(path: &str, msg: impl Into<String>) -> Error {
    Error::invalid(path, msg)
}

impl<'a> Section<'a> {
    /// A section at the dotted `path` (empty for the top level).
    pub(crate) fn new(path: &str, table: &'a toml::Table) -> Self {
        Section { path: path.into(), table, used: RefCell::new(BTreeSet::new()) }
    }

    pub(crate) fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.into()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// Whether the table holds `key` (without marking it read).
    pub(crate) fn table_has(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }

    /// The string at `key`, if it is one (without marking it read).
    pub(crate) fn peek_str(&self, key: &str) -> Option<&'a str> {
        self.table.get(key).and_then(|v| v.as_str())
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'a toml::Value> {
        self.used.borrow_mut().insert(key.into());
        self.table.get(key)
    }

    pub(crate) fn sub(&self, key: &str) -> Result<Section<'a>> {
        match self.get(key) {
            Some(toml::Value::Table(t)) => Ok(Section::new(&self.field(key), t)),
            Some(_) => Err(bad(&self.field(key), "expected a table")),
            None => Err(bad(&self.field(key), "missing section")),
        }
    }

    pub(crate) fn opt_sub(&self, key: &str) -> Result<Option<Section<'a>>> {
        if self.table.contains_key(key) {
            self.sub(key).map(Some)
        } else {
            self.get(key);
            Ok(None)
        }
    }

    pub(crate) fn str_opt(&self, key: &str) -> Result<Option<&'a str>> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(bad(&self.field(key), format!("expected a string, got {v}"))),
        }
    }

    pub(crate) fn str_req(&self, key: &str, expected: &str) -> Result<&'a str> {
        self.str_opt(key)?.ok_or_else(|| bad(&self.field(key), format!("missing; expected {expected}")))
    }

    pub(crate) fn usize_opt(&self, key: &str) -> Result<Option<usize>> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::Integer(i)) if *i >= 0 => Ok(Some(*i as usize)),
            Some(v) => Err(bad(&self.field(key), format!("expected a non-negative integer, got {v}"))),
        }
    }

    pub(crate) fn usize_req(&self, key: &str) -> Result<usize> {
        self.usize_opt(key)?.ok_or_else(|| bad(&self.field(key), "missing; expected a non-negative integer"))
    }

    pub(crate) fn positive(&self, key: &str) -> Result<usize> {
        match self.usize_req(key)? {
            0 => Err(bad(&self.field(key), "must be at least 1")),
            n => Ok(n),
        }
    }

    pub(crate) fn num_opt(&self, key: &str) -> Result<Option<Q>> {
        self.get(key).map(|v| num(&self.field(key), v)).transpose()
    }

    pub(crate) fn num_req(&self, key: &str) -> Result<Q> {
        self.num_opt(key)?.ok_or_else(|| bad(&self.field(key), "missing; expected a number or a string like \"1/10\""))
    }

    pub(crate) fn matrix_opt(&self, key: &str) -> Result<Option<Mat<Q>>> {
        self.get(key).map(|v| matrix(&self.field(key), v)).transpose()
    }

    /// Errors on keys that were never read.
    pub(crate) fn finish(&self) -> Result<()> {
        let used = self.used.borrow();
        let unknown: Vec<&String> = self.table.keys().filter(|k| !used.contains(*k)).collect();
        match unknown.first() {
            None => Ok(()),
            Some(k) => Err(bad(
                &self.field(k),
                format!("unknown key; known keys here: {}", used.iter().cloned().collect::<Vec<_>>().join(", ")),
            )),
        }
    }
}

pub(crate) fn num(field: &str, v: &toml::Value) -> Result<Q> {
    match v {
        toml::Value::Integer(i) => Ok(Q::from(*i)),
        toml::Value::Float(f) => Q::from_f64(*f).ok_or_else(|| bad(field, format!("must be finite, got {f}"))),
        toml::Value::String(s) => parse_number(s)
            .map_err(|why| bad(field, format!("expected a number like 0.5, \"1/10\", \"2.5e-3\" or \"2^-20\": {why}"))),
        v => Err(bad(field, format!("expected a number, got {v}"))),
    }
}

pub(crate) fn matrix(field: &str, v: &toml::Value) -> Result<Mat<Q>> {
    let rows = v.as_array().ok_or_else(|| bad(field, "expected a matrix as an array of rows [[..], ..]"))?;
    let mut out = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let r = r.as_array().ok_or_else(|| bad(field, format!("row {i} is not an array")))?;
        out.push(r.iter().enumerate().map(|(j, x)| num(&format!("{field}[{i}][{j}]"), x)).collect::<Result<Vec<_>>>()?);
    }
    if out.is_empty() || out[0].is_empty() {
        return Err(bad(field, "matrix must have at least one row and one column"));
    }
    Mat::try_from_rows(out).map_err(|e| bad(field, e))
}

pub(crate) fn matrices(field: &str, v: &toml::Value) -> Result<Vec<Mat<Q>>> {
    let list = v.as_array().ok_or_else(|| bad(field, "expected an array of matrices"))?;
    list.iter().enumerate().map(|(k, m)| matrix(&format!("{field}[{k}]"), m)).collect()
}
