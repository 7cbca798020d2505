//! The Workers binding (wasm32 only).
