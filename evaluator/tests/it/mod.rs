mod analysis;
mod bad_input;
mod conformance;
mod corpus;
mod properties;
mod trust;
mod vectors;
