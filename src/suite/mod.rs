//! Suites: the YAML language that describes GREP11 operation sequences and what they must
//! produce. `model` is the language as types, `expr` its byte-string expressions, `load`
//! reads and checks files, `positions` finds where cases and steps stand, `expand` turns
//! matrices into runnable case instances, `profile` says which cases a certification
//! requires and which answers it accepts.

pub(crate) mod expand;
pub(crate) mod expr;
pub(crate) mod fixture;
pub(crate) mod load;
pub(crate) mod model;
mod positions;
pub(crate) mod profile;
mod suggest;
pub(crate) mod vectors;

pub use expand::{CaseInstance, PlannedCall, expand};
pub use expr::{Expr, Func};
pub use load::{LoadError, load_paths};
pub use model::*;
pub use profile::{Profile, Reasoned, STRICT_TAG};
