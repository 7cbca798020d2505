mod bad_input;
mod corpus;
mod properties;
mod vectors;
