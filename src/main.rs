//! The `driftwatch` command line: parse, dispatch to the command's module in [`cli`], map
//! the result to an exit code. `anyhow` lives only in this binary (here and `cli/`); exit
//! codes are decided in one place, [`cli::exit`].

use std::process::ExitCode;

use clap::Parser;

mod cli;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    if let Err(e) = driftwatch::logs::init() {
        eprintln!("driftwatch: {e}");
        return ExitCode::from(2);
    }
    let cli = cli::Cli::parse();
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("driftwatch: {e:#}");
            if cli::exit::is_configuration_error(&e) {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
