//! The packages `scripts/package.sh` builds (the README test command builds
//! them before the tests run): what they hold, that they install with apt on
//! this machine, and that what they install works. The console from a fresh
//! HOME on its embedded hub, under WebDriver; the hub's service unit verified
//! by systemd, and its ExecStart serving `/health` as the service's user.

use fantoccini::Locator;
use gatehouse_tests::desktop::*;
use gatehouse_tests::tray::TrayHost;
use gatehouse_tests::*;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One file of target/packages, by its name's start and end.
fn package(prefix: &str, suffix: &str) -> PathBuf {
    let dir = repo_root().join("target/packages");
    let found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/package.sh first (the README test command does)", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().is_some_and(|n| n.starts_with(prefix) && n.ends_with(suffix)))
        .collect();
    assert_eq!(found.len(), 1, "one {prefix}*{suffix} in {}: {found:?}", dir.display());
    found.into_iter().next().unwrap()
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {}\n{}{}", out.status, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// `apt-get install` of a package file (again, if this version is already
/// installed, so a rebuilt package is what gets tested). One at a time: apt
/// holds a lock.
fn apt_install(deb: &Path) {
    static APT: Mutex<()> = Mutex::new(());
    let _one = APT.lock().unwrap_or_else(|p| p.into_inner());
    run(Command::new("apt-get").args(["install", "-y", "-q", "--reinstall", "--no-install-recommends"]).arg(deb).env("DEBIAN_FRONTEND", "noninteractive"));
}

/// desktop-file-validate: passes, and says nothing (no warnings either).
fn validate_desktop_file(path: &Path) {
    let out = run(Command::new("desktop-file-validate").arg(path));
    assert_eq!(text(&out).trim(), "", "desktop-file-validate {}", path.display());
}

fn desktop_key<'a>(entry: &'a str, key: &str) -> Option<&'a str> {
    entry.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
}

#[test]
fn the_console_deb_holds_the_binary_a_valid_desktop_entry_icons_and_its_dependencies() {
    let deb = package("gatehouse-console_", "_amd64.deb");
    let info = text(&run(Command::new("dpkg-deb").arg("--info").arg(&deb)));
    assert!(info.contains("Package: gatehouse-console\n"), "{info}");
    let depends = info.lines().find_map(|l| l.trim().strip_prefix("Depends: ")).unwrap_or_else(|| panic!("no Depends: {info}"));
    for need in ["libwebkit2gtk-4.1-0", "libgtk-3-0", "gnome-keyring |", "notification-daemon"] {
        assert!(depends.contains(need), "depends on {need}: {depends}");
    }
    assert!(info.contains("Description: Approve or reject"), "a short and a long description: {info}");

    let contents = text(&run(Command::new("dpkg-deb").arg("--contents").arg(&deb)));
    for path in [
        "usr/bin/gatehouse-console",
        "usr/share/applications/gatehouse-console.desktop",
        "usr/share/doc/gatehouse-console/copyright",
        "usr/share/icons/hicolor/16x16/apps/gatehouse-console.png",
        "usr/share/icons/hicolor/32x32/apps/gatehouse-console.png",
        "usr/share/icons/hicolor/48x48/apps/gatehouse-console.png",
        "usr/share/icons/hicolor/256x256/apps/gatehouse-console.png",
        "usr/share/icons/hicolor/128x128/apps/gatehouse-console.png",
        "usr/share/icons/hicolor/512x512/apps/gatehouse-console.png",
    ] {
        assert!(contents.lines().any(|l| l.ends_with(path)), "{path} in the package:\n{contents}");
    }

    let root = tempfile::tempdir().unwrap();
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(root.path()));
    let entry_path = root.path().join("usr/share/applications/gatehouse-console.desktop");
    validate_desktop_file(&entry_path);
    let entry = std::fs::read_to_string(&entry_path).unwrap();
    assert_eq!(desktop_key(&entry, "Name"), Some("Gatehouse"), "{entry}");
    assert_eq!(desktop_key(&entry, "Exec"), Some("gatehouse-console"), "{entry}");
    assert_eq!(desktop_key(&entry, "Icon"), Some("gatehouse-console"), "{entry}");
    assert!(desktop_key(&entry, "Comment").is_some_and(|c| !c.is_empty()), "{entry}");
}

#[test]
fn the_appimage_is_a_type_2_appimage_of_the_console() {
    let image = package("gatehouse-console_", "_amd64.AppImage");
    let head = std::fs::read(&image).unwrap();
    assert_eq!(&head[..4], b"\x7fELF", "an ELF runtime first");
    assert_eq!(&head[8..11], b"AI\x02", "the type-2 AppImage magic");
    // The runtime itself unpacks it (no FUSE needed for that).
    let dir = tempfile::tempdir().unwrap();
    run(Command::new(&image).arg("--appimage-extract").current_dir(dir.path()).stdout(Stdio::null()));
    let root = dir.path().join("squashfs-root");
    assert!(root.join("AppRun").is_file(), "an AppRun");
    assert!(root.join("usr/bin/gatehouse-console").is_file(), "the console");
    validate_desktop_file(&root.join("gatehouse-console.desktop"));
    assert!(root.join(".DirIcon").exists() && root.join("gatehouse-console.png").exists(), "its icon");
}

#[test]
fn the_server_deb_installs_a_verified_service_whose_exec_start_serves_health_as_its_user() {
    let deb = package("gatehouse-hub_", "_amd64.deb");
    let contents = text(&run(Command::new("dpkg-deb").arg("--contents").arg(&deb)));
    for path in ["usr/bin/gatehouse-hub", "usr/bin/gatehouse", "etc/gatehouse/hub.env", "etc/gatehouse/policy.yaml", "/systemd/system/gatehouse-hub.service"] {
        assert!(contents.lines().any(|l| l.ends_with(path)), "{path} in the package:\n{contents}");
    }
    let conffiles = text(&run(Command::new("dpkg-deb").arg("--info").arg(&deb).arg("conffiles")));
    for path in ["/etc/gatehouse/hub.env", "/etc/gatehouse/policy.yaml"] {
        assert!(conffiles.lines().any(|l| l.trim() == path), "{path} is kept across upgrades: {conffiles}");
    }

    apt_install(&deb);
    let unit_path = ["/lib/systemd/system/gatehouse-hub.service", "/usr/lib/systemd/system/gatehouse-hub.service"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("the unit installed");
    let verify = run(Command::new("systemd-analyze").arg("verify").arg(&unit_path));
    assert_eq!(text(&verify).trim(), "", "systemd-analyze verify says nothing");
    let id = text(&run(Command::new("id").arg("gatehouse")));
    assert!(id.contains("(gatehouse)"), "its own user and group: {id}");
    let owner = text(&run(Command::new("stat").args(["-c", "%F %U:%G %a", "/var/lib/gatehouse"])));
    assert_eq!(owner.trim(), "directory gatehouse:gatehouse 750");

    // The unit's ExecStart, with the unit's EnvironmentFile, run as its user
    // (on another port: this machine may run a hub on the default one).
    let unit = std::fs::read_to_string(&unit_path).unwrap();
    let key = |k: &str| unit.lines().find_map(|l| l.strip_prefix(k)?.strip_prefix('=')).unwrap_or_else(|| panic!("{k}= in the unit"));
    assert_eq!(key("User"), "gatehouse");
    for hardening in ["NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes"] {
        assert!(unit.lines().any(|l| l == hardening), "{hardening}");
    }
    let env_file = std::fs::read_to_string(key("EnvironmentFile")).unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let var = |name: &str| -> String {
        if name == "GATEHOUSE_LISTEN" {
            return listen.clone();
        }
        env_file.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix('=')).unwrap_or("").to_owned()
    };
    let mut argv = Vec::new();
    for word in key("ExecStart").split_whitespace() {
        if let Some(name) = word.strip_prefix("${").and_then(|w| w.strip_suffix('}')) {
            argv.push(var(name));
        } else if let Some(name) = word.strip_prefix('$') {
            argv.extend(var(name).split_whitespace().map(str::to_owned));
        } else {
            argv.push(word.to_owned());
        }
    }
    assert_eq!(argv[0], "/usr/bin/gatehouse-hub", "{argv:?}");
    assert!(argv.iter().any(|a| a == "/var/lib/gatehouse/hub.db") && argv.iter().any(|a| a == "/etc/gatehouse/policy.yaml"), "{argv:?}");
    let mut hub = Command::new("runuser").args(["-u", "gatehouse", "--"]).args(&argv).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let health = loop {
        match reqwest::blocking::get(format!("http://{listen}/health")) {
            Ok(r) => break r,
            Err(e) => {
                if let Some(status) = hub.try_wait().unwrap() {
                    let mut err = String::new();
                    std::io::Read::read_to_string(hub.stderr.as_mut().unwrap(), &mut err).unwrap();
                    panic!("the hub exited ({status}): {err}");
                }
                assert!(Instant::now() < deadline, "no /health: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    };
    assert_eq!(health.status(), 200);
    let _ = hub.kill();
    let _ = hub.wait();
    let db = text(&run(Command::new("stat").args(["-c", "%U", "/var/lib/gatehouse/hub.db"])));
    assert_eq!(db.trim(), "gatehouse", "the database belongs to the service's user");

    // README's enrolment for this layout works as written.
    let key_hex = hex_key();
    let op = unique("srv-admin");
    run(Command::new("runuser").args([
        "-u",
        "gatehouse",
        "--",
        "gatehouse-hub",
        "operators",
        "add",
        "--db",
        "/var/lib/gatehouse/hub.db",
        "--id",
        &op,
        "--public-key",
        &key_hex,
        "--role",
        "admin",
    ]));
    let list = text(&run(Command::new("runuser").args(["-u", "gatehouse", "--", "gatehouse-hub", "operators", "list", "--db", "/var/lib/gatehouse/hub.db"])));
    assert!(list.contains(&op), "{list}");
}

/// A fresh Ed25519 public key, hex (what `gatehouse key show` prints).
fn hex_key() -> String {
    gatehouse_protocol::SigningKey::generate().public().to_hex()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_installed_console_starts_from_a_fresh_home_on_its_embedded_hub_and_shows_a_hold() {
    require_desktop();
    let deb = package("gatehouse-console_", "_amd64.deb");
    blocking(move || apt_install(&deb)).await;
    let installed = text(&run(Command::new("dpkg").args(["-L", "gatehouse-console"])));
    assert!(installed.lines().any(|l| l == "/usr/bin/gatehouse-console"), "{installed}");

    // A new user's first start: nothing of ours in HOME, no settings, no key.
    let home = tempfile::tempdir().unwrap();
    let home_dir = home.path().to_str().unwrap().to_owned();
    let user = unique("pkg");
    let listen = format!("127.0.0.1:{}", free_port());
    let d = driver_env(
        &[("HOME", &home_dir), ("USER", &user), ("GATEHOUSE_LISTEN", &listen)],
        &["GATEHOUSE_DATA_DIR", "GATEHOUSE_HUB", "GATEHOUSE_OPERATOR", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"],
    );
    let c = open_app_with(&d, serde_json::json!({"tauri:options": {"application": "/usr/bin/gatehouse-console"}})).await;
    wait_attr(&c, "[data-testid=connection]", "data-state", "live").await;
    let url = format!("http://{listen}");
    let shown = wait_css(&c, "[data-testid=agent-url]").await.text().await.unwrap();
    assert!(shown.contains(&url), "the agent URL is shown: {shown}");
    let data = home.path().join(".local/share/gatehouse");
    assert!(data.join("hub.db").is_file(), "data in the user's XDG data directory: {}", data.display());

    // The key the console created in the keyring is the one agents verify.
    let cli = Cli::new(&url, &user);
    let pk = cli.run(&["key", "show"]);
    assert_eq!(pk.code, 0, "{}", pk.stderr);
    let pk = pk.stdout.trim().to_owned();
    let mut a = agent("trace_agent.py", &[&url, "send_email", &pk, "--wait-ms", "30000"]);
    let mut out = BufReader::new(a.stdout.take().unwrap());
    let id = read_json_line(&mut out)["proposed"]["actionId"].as_str().unwrap().to_owned();
    wait_css(&c, &row(&id)).await.click().await.unwrap();
    c.find(Locator::Css("body")).await.unwrap().send_keys("a").await.unwrap();
    let done = blocking(move || read_json_line(&mut out)).await;
    assert!(a.wait().unwrap().success());
    assert_eq!(done["final"]["status"], "approved", "{done}");
    assert_eq!(done["verified"], true, "{done}");

    // Start at login, from Settings: an autostart entry for the installed
    // binary that starts it hidden in the tray.
    wait_css(&c, "[data-testid=open-settings]").await.click().await.unwrap();
    wait_css(&c, "[data-testid=settings-autostart]").await.click().await.unwrap();
    wait_css(&c, "[data-testid=settings-save]").await.click().await.unwrap();
    let entry_path = home.path().join(".config/autostart/gatehouse-console.desktop");
    let entry = wait_for("the autostart entry", || std::fs::read_to_string(&entry_path).ok()).await;
    let exec = desktop_key(&entry, "Exec").unwrap().to_owned();
    assert_eq!(exec, "\"/usr/bin/gatehouse-console\" --hidden", "{entry}");
    validate_desktop_file(&entry_path);
    // Saving also re-applies the hub settings; Save is disabled until done.
    wait_css(&c, "[data-testid=settings-saved]").await;
    wait_attr(&c, "[data-testid=connection]", "data-state", "live").await;
    wait_css(&c, "[data-testid=settings-autostart]").await.click().await.unwrap();
    wait_css(&c, "[data-testid=settings-save]").await.click().await.unwrap();
    wait_for("the entry removed", || (!entry_path.exists()).then_some(())).await;
    c.close().await.unwrap();
    drop(d);
    let installed = Path::new("/usr/bin/gatehouse-console");
    wait_for("the console to quit", || processes_of(installed, None).is_empty().then_some(())).await;

    // Login: a panel is up, the session runs the entry's command line. The
    // console starts in the tray, its window hidden, and the tray opens it.
    let tray = TrayHost::start();
    let argv: Vec<String> = exec.split(' ').map(|w| w.trim_matches('"').to_owned()).collect();
    let mut login = Command::new(&argv[0]);
    login.args(&argv[1..]).env("HOME", &home_dir).env("USER", &user).env("GATEHOUSE_LISTEN", &listen).stdout(Stdio::null()).stderr(Stdio::null());
    for k in ["GATEHOUSE_DATA_DIR", "GATEHOUSE_HUB", "GATEHOUSE_OPERATOR", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"] {
        login.env_remove(k);
    }
    let mut app = login.spawn().unwrap();
    wait_for("the tray item", || tray.menu().into_iter().find(|e| e.label.starts_with("Open Gatehouse"))).await;
    // Hidden: never shown yet, so no X window at all ("absent"), or unmapped.
    let state = window_state_of("Gatehouse", Some(app.id()));
    assert!(state == "absent" || state == "unmapped", "started hidden, yet the window is {state}");
    tray.click("Open Gatehouse");
    wait_window_of("Gatehouse", Some(app.id()), "mapped").await;
    let _ = app.kill();
    let _ = app.wait();
}
