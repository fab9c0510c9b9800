//! Suites: the YAML language that describes GREP11 operation sequences and what they must
//! produce. `model` is the language as types, `by_name` turns names into constants, `expr`
//! is its byte-string expressions, `load` reads and checks files, `yaml` is the one reader
//! of YAML, `expand` turns matrices into runnable case instances, `profile` says which
//! cases a certification requires and which answers it accepts.

pub(crate) mod by_name;
pub(crate) mod expand;
pub(crate) mod expr;
pub(crate) mod fixture;
pub(crate) mod load;
pub(crate) mod model;
pub(crate) mod profile;
mod suggest;
pub(crate) mod vectors;
pub(crate) mod yaml;

pub use expand::{CaseInstance, PlannedCall, expand};
pub use expr::{Expr, Func};
pub use load::{LoadError, load_paths};
pub use model::*;
pub use profile::{Accept, IdPattern, Profile, Reasoned, STRICT_TAG};
pub use vectors::VectorSource;
