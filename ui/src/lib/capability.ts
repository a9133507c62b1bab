// Capability syntax, mirrored from crates/protocol/src/grant.rs
// (valid_capability) so the form can say what is wrong before signing;
// the Rust side validates again before anything is signed.
export function validCapability(cap: string): boolean {
  const base = cap.endsWith(".*") ? cap.slice(0, -2) : cap;
  return (
    base.length > 0 && cap.length <= 120 && !base.startsWith(".") && !base.endsWith(".") && !base.includes("..") &&
    /^[A-Za-z0-9_:.-]+$/.test(base)
  );
}

export function splitCapabilities(text: string): string[] {
  return text.split(/[\s,]+/).map((c) => c.trim()).filter(Boolean);
}
