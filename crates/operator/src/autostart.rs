//! Start the console at login: an XDG autostart entry
//! (`$XDG_CONFIG_HOME/autostart/gatehouse-console.desktop`, the freedesktop
//! "Desktop Application Autostart" spec every Linux desktop follows) that
//! runs the console with `--hidden`, so it starts in the tray and notifies.
//!
//! The entry's presence is the setting: there is nothing to keep in sync with
//! `settings.json`, and a user who deletes the file has turned it off.

use crate::config::ENV_DATA_DIR;
use crate::error::OpError;
use std::path::{Path, PathBuf};

/// The entry's file name (also the console's desktop file and binary name).
pub const ENTRY: &str = "gatehouse-console.desktop";

/// `$XDG_CONFIG_HOME/autostart`, else `~/.config/autostart`.
pub fn dir() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from).filter(|p| p.is_absolute());
    xdg.or_else(|| std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|h| PathBuf::from(h).join(".config"))).map(|c| c.join("autostart"))
}

/// Whether the console starts at login (its entry is there).
pub fn enabled() -> bool {
    dir().is_some_and(|d| d.join(ENTRY).is_file())
}

/// The program the entry runs: the AppImage file when running from one (its
/// runtime sets `APPIMAGE`; the binary inside is gone after the run), else
/// this executable.
pub fn program() -> Result<PathBuf, OpError> {
    if let Some(a) = std::env::var_os("APPIMAGE").map(PathBuf::from).filter(|p| p.is_absolute()) {
        return Ok(a);
    }
    std::env::current_exe().map_err(|e| OpError::Store(format!("cannot tell where this program is: {e}")))
}

/// Turn autostart on or off for `program`. A console run on its own data
/// directory (`GATEHOUSE_DATA_DIR`) starts at login on that directory.
pub fn set(on: bool, program: &Path) -> Result<(), OpError> {
    let dir = dir().ok_or_else(|| OpError::Invalid("no HOME or XDG_CONFIG_HOME: nowhere to put an autostart entry".into()))?;
    let data_dir = std::env::var_os(ENV_DATA_DIR).map(PathBuf::from).filter(|d| !d.as_os_str().is_empty());
    write(&dir, on, program, data_dir.as_deref())
}

fn write(dir: &Path, on: bool, program: &Path, data_dir: Option<&Path>) -> Result<(), OpError> {
    let path = dir.join(ENTRY);
    let store = |e: std::io::Error| OpError::Store(format!("autostart entry {}: {e}", path.display()));
    if !on {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(store(e)),
            _ => Ok(()),
        };
    }
    std::fs::create_dir_all(dir).map_err(store)?;
    let tmp = dir.join(format!(".{ENTRY}.tmp"));
    std::fs::write(&tmp, entry(program, data_dir)?).map_err(store)?;
    std::fs::rename(&tmp, &path).map_err(store)
}

/// The entry's text. Exec arguments are quoted as the Desktop Entry spec
/// says (double quotes; `"`, `` ` ``, `$` and `\` escaped; `%` doubled),
/// then escaped once more as a string value (`\` doubled).
fn entry(program: &Path, data_dir: Option<&Path>) -> Result<String, OpError> {
    let mut exec = Vec::new();
    if let Some(d) = data_dir {
        exec.push(quote("env")?);
        exec.push(quote(&format!("{ENV_DATA_DIR}={}", text(d)?))?);
    }
    exec.push(quote(text(program)?)?);
    exec.push("--hidden".to_owned());
    Ok(format!(
        "[Desktop Entry]\nType=Application\nName=Gatehouse\nComment=Gatehouse console in the tray: notifies when an agent's action needs you\nExec={}\nIcon=gatehouse-console\nTerminal=false\nCategories=Utility;\nX-GNOME-Autostart-enabled=true\n",
        exec.join(" ")
    ))
}

fn text(p: &Path) -> Result<&str, OpError> {
    p.to_str().ok_or_else(|| OpError::Invalid(format!("{} is not UTF-8: a desktop entry cannot name it", p.display())))
}

fn quote(arg: &str) -> Result<String, OpError> {
    if arg.chars().any(|c| c.is_control()) {
        return Err(OpError::Invalid(format!("{arg:?} has a control character: a desktop entry cannot name it")));
    }
    let mut q = String::from("\"");
    for c in arg.chars() {
        match c {
            '"' | '`' | '$' | '\\' => {
                q.push('\\');
                q.push(c);
            }
            '%' => q.push_str("%%"),
            _ => q.push(c),
        }
    }
    q.push('"');
    // The value itself is a string: its backslashes are escaped once more.
    Ok(q.replace('\\', "\\\\"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_writes_an_entry_that_starts_hidden_and_off_removes_it() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("autostart");
        write(&dir, true, Path::new("/usr/bin/gatehouse-console"), None).unwrap();
        let e = std::fs::read_to_string(dir.join(ENTRY)).unwrap();
        assert!(e.starts_with("[Desktop Entry]\n"), "{e}");
        assert!(e.contains("\nExec=\"/usr/bin/gatehouse-console\" --hidden\n"), "{e}");
        assert!(e.contains("\nType=Application\n"));
        write(&dir, false, Path::new("/usr/bin/gatehouse-console"), None).unwrap();
        assert!(!dir.join(ENTRY).exists());
        // Off twice is still off, not an error.
        write(&dir, false, Path::new("/usr/bin/gatehouse-console"), None).unwrap();
    }

    #[test]
    fn awkward_paths_are_quoted_and_a_data_dir_comes_along() {
        let e = entry(Path::new("/opt/my apps/50% \"off\"/$x/gate`house"), Some(Path::new("/home/a b/gh"))).unwrap();
        let exec = e.lines().find_map(|l| l.strip_prefix("Exec=")).unwrap();
        assert_eq!(exec, r#""env" "GATEHOUSE_DATA_DIR=/home/a b/gh" "/opt/my apps/50%% \\"off\\"/\\$x/gate\\`house" --hidden"#);
        assert!(entry(Path::new("/tmp/a\nb"), None).is_err(), "a newline would start a new key");
    }
}
