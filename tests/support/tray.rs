//! A tray host on the session bus, as a desktop panel is: it owns
//! `org.kde.StatusNotifierWatcher`, hears tray icons register
//! (StatusNotifierItem, as libayatana-appindicator speaks it), reads an
//! icon's label and menu (`com.canonical.dbusmenu`) and clicks menu items
//! the way a panel does when a person picks one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Structure, Value};

const WATCHER: &str = "org.kde.StatusNotifierWatcher";
const ITEM: &str = "org.kde.StatusNotifierItem";
const MENU: &str = "com.canonical.dbusmenu";
const PROPS: &str = "org.freedesktop.DBus.Properties";

type Items = Arc<Mutex<Vec<(String, String)>>>;
/// A dbusmenu node: id, properties, children (each a variant holding a node).
type Layout = (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>);

struct Watcher {
    items: Items,
}

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    /// `service` is an object path on the caller's connection (ayatana) or
    /// a bus name (the item at the usual path).
    fn register_status_notifier_item(&self, service: &str, #[zbus(header)] hdr: zbus::message::Header<'_>) {
        let sender = hdr.sender().map(|s| s.to_string()).unwrap_or_default();
        let item = if service.starts_with('/') { (sender, service.to_owned()) } else { (service.to_owned(), "/StatusNotifierItem".to_owned()) };
        self.items.lock().unwrap().push(item);
    }

    fn register_status_notifier_host(&self, _service: &str) {}

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.items.lock().unwrap().iter().map(|(bus, path)| format!("{bus}{path}")).collect()
    }

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }
}

/// The panel. Start it before the app, so the app finds a tray.
pub struct TrayHost {
    conn: zbus::blocking::Connection,
    items: Items,
}

/// A menu entry: its id and label (mnemonic underscores removed).
#[derive(Debug, Clone)]
pub struct MenuEntry {
    pub id: i32,
    pub label: String,
}

impl TrayHost {
    pub fn start() -> TrayHost {
        let items: Items = Arc::default();
        let conn = zbus::blocking::connection::Builder::session()
            .and_then(|b| b.name(WATCHER))
            .and_then(|b| b.serve_at("/StatusNotifierWatcher", Watcher { items: items.clone() }))
            .and_then(|b| b.build())
            .expect("owning org.kde.StatusNotifierWatcher on the session bus (run inside scripts/session.sh)");
        TrayHost { conn, items }
    }

    /// The icon registered by the app (the newest), waiting for it.
    pub fn item(&self) -> (String, String) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(item) = self.items.lock().unwrap().last().cloned() {
                return item;
            }
            assert!(Instant::now() < deadline, "no tray icon registered with the StatusNotifierWatcher");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn property(&self, iface: &str, name: &str) -> OwnedValue {
        let (bus, path) = self.item();
        let reply = self.conn.call_method(Some(bus.as_str()), path.as_str(), Some(PROPS), "Get", &(iface, name)).expect("the tray icon's property");
        reply.body().deserialize::<OwnedValue>().expect("a property value")
    }

    /// The text beside the icon (ayatana's label; the waiting count).
    pub fn label(&self) -> String {
        String::try_from(self.property(ITEM, "XAyatanaLabel")).unwrap_or_default()
    }

    fn menu_at(&self) -> (String, OwnedObjectPath) {
        let (bus, _) = self.item();
        let path = OwnedObjectPath::try_from(self.property(ITEM, "Menu")).expect("the icon's menu path");
        (bus, path)
    }

    /// The menu's entries, depth first.
    pub fn menu(&self) -> Vec<MenuEntry> {
        let (bus, path) = self.menu_at();
        let empty: Vec<&str> = Vec::new();
        let reply = self.conn.call_method(Some(bus.as_str()), path.as_str(), Some(MENU), "GetLayout", &(0i32, -1i32, empty)).expect("GetLayout");
        let (_revision, (id, props, children)): (u32, Layout) = reply.body().deserialize().expect("a dbusmenu layout");
        let mut out = Vec::new();
        entries(id, &props, &children, &mut out);
        out
    }

    /// Pick the entry whose label starts with `label`, as a person would.
    pub fn click(&self, label: &str) {
        let entry = self.menu().into_iter().find(|e| e.label.starts_with(label)).unwrap_or_else(|| panic!("no menu entry {label:?}: {:?}", self.menu()));
        let (bus, path) = self.menu_at();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as u32;
        self.conn.call_method(Some(bus.as_str()), path.as_str(), Some(MENU), "Event", &(entry.id, "clicked", Value::I32(0), now)).expect("the menu's Event");
    }
}

fn label_of(props: &HashMap<String, OwnedValue>) -> String {
    props.get("label").and_then(|v| String::try_from(v.try_clone().ok()?).ok()).unwrap_or_default().replace('_', "")
}

fn entries(id: i32, props: &HashMap<String, OwnedValue>, children: &[OwnedValue], out: &mut Vec<MenuEntry>) {
    if id != 0 {
        out.push(MenuEntry { id, label: label_of(props) });
    }
    for child in children {
        let Ok(s) = Structure::try_from(child.try_clone().expect("clonable")) else { continue };
        let fields = s.into_fields();
        let mut fields = fields.into_iter();
        let (Some(Value::I32(cid)), Some(props), Some(kids)) = (fields.next(), fields.next(), fields.next()) else { continue };
        let props: HashMap<String, OwnedValue> = HashMap::try_from(props).unwrap_or_default();
        let kids: Vec<OwnedValue> = Vec::try_from(kids).unwrap_or_default();
        entries(cid, &props, &kids, out);
    }
}
