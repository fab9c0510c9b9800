//! Tests of the emulator's engine called as plain functions, below the wire: they need its
//! internals, which the library does not export.

mod limits;
mod props;
mod wycheproof;
