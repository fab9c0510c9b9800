//! Suites: the YAML language that describes GREP11 operation sequences and what they must
//! produce. `model` is the language as types, `by_name` turns names into constants, `expr` its byte-string expressions, `load`
//! reads and checks files, `yaml` is the one reader of YAML, `expand` turns
//! matrices into runnable case instances, `profile` says which cases a certification
//! requires and which answers it accepts.

pub mod by_name;
pub mod expand;
pub mod expr;
pub mod fixture;
pub mod load;
pub mod model;
pub mod profile;
mod suggest;
pub mod vectors;
pub mod yaml;

pub use expand::{CaseInstance, PlannedCall, expand};
pub use expr::{Expr, Func};
pub use load::{LoadError, load_paths};
pub use model::*;
pub use profile::{Profile, Reasoned};
