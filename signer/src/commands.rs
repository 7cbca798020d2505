//! One module per command: its arguments (`Args`, or a subcommand enum) and `run`, which reads
//! what the command needs, calls the pure modules and the evaluator, and prints. `main` maps the
//! outcome to an exit code.

pub mod approve;
pub mod claim;
pub mod codes;
pub mod cosign;
pub mod eval;
pub mod inspect;
pub mod keygen;
pub mod lint;
pub mod root;
pub mod sign;
pub mod verify;
pub mod windows;
