//! Vector fields beyond plain gradient flow (to be written).
