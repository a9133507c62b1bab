"""The console's window as a window manager sees it (tests only).

    window.py close NAME    ask the window titled NAME... to close, as a
                            window manager's close button does
                            (WM_PROTOCOLS / WM_DELETE_WINDOW)
    window.py state NAME [PID]
                            print "mapped", "unmapped" or "absent"

NAME matches the start of the window's title ("Gatehouse" matches
"Gatehouse (3)"); with PID, only that process's windows (_NET_WM_PID).
Needs DISPLAY.
"""
import sys

from Xlib import X, display
from Xlib.protocol import event


def windows(d):
    stack = [d.screen().root]
    while stack:
        w = stack.pop()
        yield w
        try:
            stack.extend(w.query_tree().children)
        except Exception:
            pass


def title(d, w):
    try:
        net = w.get_full_property(d.intern_atom("_NET_WM_NAME"), d.intern_atom("UTF8_STRING"))
        if net is not None:
            return net.value.decode("utf-8", "replace")
        name = w.get_wm_name()
        return name if isinstance(name, str) else None
    except Exception:
        return None


def pid_of(d, w):
    try:
        p = w.get_full_property(d.intern_atom("_NET_WM_PID"), X.AnyPropertyType)
        return int(p.value[0]) if p is not None and len(p.value) else None
    except Exception:
        return None


def find(d, name, pid=None):
    # Top-level client windows carry WM_PROTOCOLS; GTK's helper windows do not.
    protocols = d.intern_atom("WM_PROTOCOLS")
    for w in windows(d):
        t = title(d, w)
        if t is not None and t.startswith(name) and w.get_full_property(protocols, X.AnyPropertyType) is not None:
            if pid is None or pid_of(d, w) == pid:
                return w
    return None


def main():
    what, name = sys.argv[1], sys.argv[2]
    pid = int(sys.argv[3]) if len(sys.argv) > 3 else None
    d = display.Display()
    w = find(d, name, pid)
    if what == "state":
        if w is None:
            print("absent")
        else:
            print("mapped" if w.get_attributes().map_state == X.IsViewable else "unmapped")
        return 0
    if what == "close":
        if w is None:
            print(f"no window titled {name!r}", file=sys.stderr)
            return 1
        msg = event.ClientMessage(
            window=w,
            client_type=d.intern_atom("WM_PROTOCOLS"),
            data=(32, [d.intern_atom("WM_DELETE_WINDOW"), X.CurrentTime, 0, 0, 0]),
        )
        w.send_event(msg, event_mask=X.NoEventMask)
        d.flush()
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
