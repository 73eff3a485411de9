//! Drivers: the I/O around the pure core. Each feeds records to
//! [`crate::pipeline::Pipeline`] and delivers what comes out.

pub mod demo;
pub mod input;
pub mod replay;
mod run_file;
