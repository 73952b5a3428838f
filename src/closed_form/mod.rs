//! Closed-form references: exact solutions and limits that numerical flows are compared with.
//! Each reference checks its preconditions and returns [`crate::error::Error::Precondition`] when
//! they are unmet.

pub mod balancing;
pub mod basic_inequality;
pub mod diagonal;
pub mod end_to_end;
pub mod lindsey_menon;
pub mod razin_cohen;
pub mod reference;
pub mod riccati;
pub mod saxe;
