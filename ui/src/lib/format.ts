// Time formatting for the queue: how long an action has waited, and how
// long until its hold's deadline.
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  const h = Math.floor(s / 3600);
  return `${h}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export function waiting(since: string, now: number): string {
  const t = Date.parse(since);
  return Number.isNaN(t) ? "?" : duration(now - t);
}

export function countdown(deadline: string | null, now: number): { text: string; urgent: boolean; passed: boolean } {
  if (!deadline) return { text: "no deadline", urgent: false, passed: false };
  const left = Date.parse(deadline) - now;
  if (Number.isNaN(left)) return { text: "?", urgent: false, passed: false };
  if (left <= 0) return { text: "expired", urgent: true, passed: true };
  return { text: duration(left), urgent: left < 60_000, passed: false };
}

export function pretty(v: unknown): string {
  if (v === null || v === undefined) return "—";
  try {
    return JSON.stringify(v, null, 2);
  } catch {
    return String(v);
  }
}
