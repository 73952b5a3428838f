//! (reference to be written)
