#![doc = include_str!("../README.md")]

pub mod describe;
pub mod lint;
pub mod review;
pub mod windows;

pub use review::{draft_payload, review, review_json, Review, ReviewError, ReviewInput};
pub use windows::{windows, windows_json, Interval, WindowsError, WindowsInput};
