//! What every command needs: the global flags, the operator's hub client and
//! local store, and output that reports a failed write instead of panicking.

use gatehouse_operator::config::{self, ENV_HUB};
use gatehouse_operator::error::{exit, OpError};
use gatehouse_operator::hub_client::HubClient;
use gatehouse_operator::store::LocalStore;
use gatehouse_operator::vault::Vault;
use gatehouse_protocol::ErrorBody;
use serde_json::json;
use std::fmt::Display;
use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::Arc;

/// Why a command stopped short: the operator core's error, or stdout could
/// not be written to.
#[derive(Debug)]
pub enum CliError {
    Op(OpError),
    Stdout(io::Error),
}

impl From<OpError> for CliError {
    fn from(e: OpError) -> Self {
        CliError::Op(e)
    }
}

/// A command's exit code (see `gatehouse_operator::error::exit`), or why it failed.
pub type CmdResult = Result<u8, CliError>;

/// Write one line to stdout. A failed write comes back as an error rather
/// than a panic (as `println!` would), so a closed pipe ends the command.
pub fn out(line: impl Display) -> Result<(), CliError> {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{line}").and_then(|()| stdout.flush()).map_err(CliError::Stdout)
}

pub struct Ctx {
    pub json: bool,
    hub: Option<String>,
    operator: Option<String>,
}

impl Ctx {
    pub fn new(json: bool, hub: Option<String>, operator: Option<String>) -> Self {
        Self { json, hub, operator }
    }

    pub fn operator(&self) -> Result<String, OpError> {
        config::validate_operator_id(self.operator.as_deref().unwrap_or(""))
    }

    pub fn hub(&self) -> Result<String, OpError> {
        let hub = self.hub.as_deref().ok_or_else(|| OpError::Invalid(format!("no hub: pass --hub or set {ENV_HUB}")))?;
        config::normalize_hub(hub)
    }

    /// A client signing as the operator, with the keyring key.
    pub fn client(&self) -> Result<HubClient, OpError> {
        let op = self.operator()?;
        let key = Vault.load(&op)?;
        HubClient::new(&self.hub()?, &op, Arc::new(key))
    }

    pub fn store(&self) -> Result<LocalStore, OpError> {
        LocalStore::open_in(&config::data_dir())
    }

    /// One result on stdout: `machine` with `--json`, else the human text.
    pub fn print(&self, human: impl FnOnce() -> String, machine: serde_json::Value) -> Result<(), CliError> {
        if self.json {
            out(machine)
        } else {
            out(human())
        }
    }

    /// The process's exit status; a failure is reported on stderr.
    pub fn finish(&self, result: CmdResult) -> ExitCode {
        let (body, code) = match result {
            Ok(code) => return ExitCode::from(code),
            // The reader has gone (`gatehouse approvals | head -1`): it has
            // what it wanted. Stop quietly and successfully, as ripgrep does.
            Err(CliError::Stdout(e)) if e.kind() == io::ErrorKind::BrokenPipe => return ExitCode::SUCCESS,
            Err(CliError::Stdout(e)) => (ErrorBody::new("stdout", format!("writing to stdout: {e}")), exit::INTERNAL),
            Err(CliError::Op(e)) => (e.body(), e.exit_code()),
        };
        if self.json {
            eprintln!("{}", json!({"error": body}));
        } else {
            eprintln!("error[{}]: {}", body.code, body.message);
        }
        ExitCode::from(code)
    }
}
