//! The keyring vault: the operator's Ed25519 key lives only in the OS
//! keyring (Secret Service on Linux), under service `gatehouse` and account =
//! operator id. The secret is read into a [`SigningKey`] (redacted Debug, not
//! serialisable, zeroised on drop) and never printed, logged or written to a
//! file by Gatehouse.

use crate::error::OpError;
use gatehouse_protocol::{PublicKey, SigningKey};

pub const SERVICE: &str = "gatehouse";

#[derive(Default)]
pub struct Vault;

fn keyring_err(e: keyring::Error) -> OpError {
    OpError::Keyring(e.to_string())
}

impl Vault {
    fn entry(&self, operator: &str) -> Result<keyring::Entry, OpError> {
        keyring::Entry::new(SERVICE, operator).map_err(keyring_err)
    }

    /// Create the operator's key. Refuses to replace an existing one.
    pub fn init(&self, operator: &str) -> Result<PublicKey, OpError> {
        let entry = self.entry(operator)?;
        match entry.get_password() {
            Ok(_) => return Err(OpError::KeyExists(operator.to_owned())),
            Err(keyring::Error::NoEntry) => {}
            Err(e) => return Err(keyring_err(e)),
        }
        let key = SigningKey::generate();
        entry.set_password(&key.to_secret_hex()).map_err(keyring_err)?;
        // Read it back: proves the keyring really stored it.
        let stored = self.load(operator)?;
        if stored.public() != key.public() {
            return Err(OpError::Keyring("the keyring returned a different key than was stored".into()));
        }
        Ok(key.public())
    }

    pub fn load(&self, operator: &str) -> Result<SigningKey, OpError> {
        let secret = zeroize::Zeroizing::new(match self.entry(operator)?.get_password() {
            Ok(s) => s,
            Err(keyring::Error::NoEntry) => return Err(OpError::NoKey(operator.to_owned())),
            Err(e) => return Err(keyring_err(e)),
        });
        SigningKey::from_secret_hex(&secret).map_err(|_| OpError::Keyring(format!("the keyring entry for {operator:?} is not a Gatehouse key")))
    }

    /// Create the key if absent (the console's first run); returns the public key.
    pub fn ensure(&self, operator: &str) -> Result<PublicKey, OpError> {
        match self.load(operator) {
            Ok(k) => Ok(k.public()),
            Err(OpError::NoKey(_)) => self.init(operator),
            Err(e) => Err(e),
        }
    }
}
