import type { Connection } from "./types";
// Time formatting for the queue: how long an action has waited, and how
// long until its hold's deadline. Queue rows use the coarse form (minutes;
// seconds only in a deadline's last two minutes): the clock ticks every
// second, and a row whose text does not change is not repainted, so an idle
// queue costs next to nothing however recent its holds.
export function duration(ms: number, coarse = false): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return coarse ? "<1m" : `${s}s`;
  if (s < 3600) return coarse ? `${Math.floor(s / 60)}m` : `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  const h = Math.floor(s / 3600);
  return `${h}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** Under this, a deadline is counted down in seconds even in coarse form. */
export const SECONDS_BEFORE_DEADLINE_MS = 120_000;

export function waiting(since: string, now: number, coarse = false): string {
  const t = Date.parse(since);
  return Number.isNaN(t) ? "?" : duration(now - t, coarse);
}

export function countdown(deadline: string | null, now: number, coarse = false): { text: string; urgent: boolean; passed: boolean } {
  if (!deadline) return { text: "no deadline", urgent: false, passed: false };
  const left = Date.parse(deadline) - now;
  if (Number.isNaN(left)) return { text: "?", urgent: false, passed: false };
  if (left <= 0) return { text: "expired", urgent: true, passed: true };
  return { text: duration(left, coarse && left >= SECONDS_BEFORE_DEADLINE_MS), urgent: left < 60_000, passed: false };
}

export function pretty(v: unknown): string {
  if (v === null || v === undefined) return "—";
  try {
    return JSON.stringify(v, null, 2);
  } catch {
    return String(v);
  }
}

/** HH:MM of an RFC 3339 time, in local time. */
export function clock(at: string): string {
  const t = new Date(at);
  return Number.isNaN(t.getTime()) ? "?" : `${String(t.getHours()).padStart(2, "0")}:${String(t.getMinutes()).padStart(2, "0")}`;
}

/** The indicator's words for the link to the hub. */
export function linkLabel(c: Connection | null, now: number): string {
  const next = c?.nextRetryAt ? Math.max(0, Math.ceil((Date.parse(c.nextRetryAt) - now) / 1000)) : null;
  const retry = next === null ? "" : next > 0 ? `, next try in ${next}s` : ", trying now";
  switch (c?.state ?? "connecting") {
    case "live":
      return "Live";
    case "connecting":
      return c && c.attempt > 0 ? `Connecting… (attempt ${c.attempt} failed${retry})` : "Connecting…";
    case "reconnecting":
      return `Reconnecting… (attempt ${c?.attempt ?? 0}${retry})`;
    case "offline":
      return next === null ? "Offline" : `Offline${retry.replace(/^, /, " — ")}`;
  }
}

/**
 * What an empty waiting queue says: only a live console may say nothing
 * is waiting; otherwise it says what it knows and since when.
 */
export function emptyQueueText(c: Connection | null): string {
  if (c?.state === "live") return "Nothing is waiting for you.";
  if (c?.lastLiveAt) return `Not connected to the hub: this is the last known queue, as of ${clock(c.lastLiveAt)}.`;
  return "Not connected to the hub yet: the queue shows once it answers.";
}

/** A team hold's progress, as the queue row and the detail show it: "1 of 2 ·
 * waiting for finance" (the CLI's `QuorumView::progress`; both pass
 * crates/protocol/tests/quorum_corpus.json). The escalation's groups count
 * once the hold has escalated. */
export function quorumProgress(q: { required: number; approvals: number; approvers: string[]; escalateTo: string[]; escalated: boolean }): string {
  const groups = [...q.approvers, ...(q.escalated ? q.escalateTo : [])];
  const who = q.approvers.length === 0 ? "any approver" : groups.join(" or ");
  return `${q.approvals} of ${q.required} · waiting for ${who}`;
}
