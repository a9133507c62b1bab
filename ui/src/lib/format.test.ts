/// <reference types="vite/client" />
import { describe, expect, it } from "vitest";
import quorumCorpusText from "../../../crates/protocol/tests/quorum_corpus.json?raw";
import type { QuorumView } from "./bindings";
import { countdown, duration, emptyQueueText, linkLabel, pretty, quorumProgress } from "./format";

describe("format", () => {
  it("formats durations", () => {
    expect(duration(5_000)).toBe("5s");
    expect(duration(125_000)).toBe("2m 05s");
    expect(duration(3_900_000)).toBe("1h 05m");
    expect(duration(-1)).toBe("0s");
    // Coarse (queue rows): minutes, so the text changes once a minute.
    expect(duration(5_000, true)).toBe("<1m");
    expect(duration(125_000, true)).toBe("2m");
    expect(duration(3_900_000, true)).toBe("1h 05m");
  });
  it("counts down to a deadline", () => {
    const now = Date.parse("2026-11-21T10:00:00Z");
    expect(countdown(null, now).text).toBe("no deadline");
    expect(countdown("2026-11-21T10:00:30Z", now)).toEqual({ text: "30s", urgent: true, passed: false });
    expect(countdown("2026-11-21T09:59:00Z", now).passed).toBe(true);
    // Coarse: minutes, and seconds again in the last two minutes.
    expect(countdown("2026-11-21T10:29:40Z", now, true).text).toBe("29m");
    expect(countdown("2026-11-21T10:01:50Z", now, true).text).toBe("1m 50s");
    expect(countdown("2026-11-21T10:00:30Z", now, true).text).toBe("30s");
  });
  it("pretty-prints params without evaluating them", () => {
    expect(pretty({ a: "<script>alert(1)</script>" })).toContain("<script>alert(1)</script>");
  });
});

describe("the link to the hub", () => {
  const base = { detail: null, attempt: 0, nextRetryAt: null, lastLiveAt: null, outboxPending: 0 };
  const now = Date.parse("2026-11-22T10:00:00Z");
  it("never says nothing is waiting unless live", () => {
    expect(emptyQueueText({ ...base, state: "live" })).toBe("Nothing is waiting for you.");
    expect(emptyQueueText(null)).toMatch(/^Not connected to the hub yet/);
    expect(emptyQueueText({ ...base, state: "connecting" })).not.toMatch(/Nothing is waiting/);
    const off = emptyQueueText({ ...base, state: "offline", lastLiveAt: "2026-11-22T09:41:00Z" });
    expect(off).toMatch(/last known queue, as of \d\d:41/);
    expect(emptyQueueText({ ...base, state: "reconnecting", lastLiveAt: "2026-11-22T09:41:00Z" })).not.toMatch(/Nothing is waiting/);
  });
  it("says the attempt and when the next one starts", () => {
    expect(linkLabel(null, now)).toBe("Connecting…");
    expect(linkLabel({ ...base, state: "live" }, now)).toBe("Live");
    const r = { ...base, state: "reconnecting" as const, attempt: 2, detail: "connection refused", nextRetryAt: "2026-11-22T10:00:03Z" };
    expect(linkLabel(r, now)).toBe("Reconnecting… (attempt 2, next try in 3s)");
    expect(linkLabel({ ...r, state: "offline", attempt: 5 }, now)).toBe("Offline — next try in 3s");
    expect(linkLabel({ ...r, state: "offline", nextRetryAt: null }, now)).toBe("Offline");
    expect(linkLabel({ ...base, state: "connecting", attempt: 1, nextRetryAt: "2026-11-22T10:00:01Z" }, now)).toBe("Connecting… (attempt 1 failed, next try in 1s)");
  });
});

// The shared corpus (crates/protocol/tests/quorum_corpus.json) that the
// Rust rule (QuorumView::progress) passes too.
describe("quorumProgress", () => {
  const corpus = JSON.parse(quorumCorpusText) as { progress: { quorum: QuorumView; progress: string }[] };
  it("says how many of how many and whom it waits for, in the CLI's words", () => {
    for (const c of corpus.progress) expect(quorumProgress(c.quorum)).toBe(c.progress);
  });
});
