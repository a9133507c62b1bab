//! `gatehouse`: the operator CLI. Exit codes are stable (see
//! `gatehouse_operator::error::exit` and README.md). The commands live in
//! [`cli`]; this file only starts logging, parses and exits.

mod cli;

use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("GATEHOUSE_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = cli::args::Cli::parse();
    let ctx = cli::context::Ctx::new(args.json, args.hub, args.operator);
    let result = cli::run(&ctx, args.cmd).await;
    ctx.finish(result)
}
