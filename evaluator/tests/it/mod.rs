mod analysis;
mod bad_input;
mod conformance;
mod corpus;
mod place;
mod properties;
mod trust;
mod vectors;
