//! The `driftwatch` command line: parse, dispatch to the command's module in [`cli`], map
//! the result to an exit code. `anyhow` lives only in this binary (here and in `cli/`);
//! the library's layers return their own error types, and the exit code is read from
//! those types in one place, [`cli::exit`]: 0 success, 1 a run that failed, 2 bad usage or
//! configuration.

use std::process::ExitCode;

use clap::Parser;

use cli::exit::{self, Exit};

mod cli;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match run() {
        Ok(()) => Exit::Success.into(),
        Err(e) => {
            eprintln!("driftwatch: {}", exit::message(&e));
            exit::code(&e).into()
        }
    }
}

fn run() -> anyhow::Result<()> {
    driftwatch::logs::init()?;
    cli::run(cli::Cli::parse())
}
