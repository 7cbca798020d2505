//! The evaluator's one integration-test binary.

mod it;
