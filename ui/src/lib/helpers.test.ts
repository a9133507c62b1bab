import { describe, expect, it } from "vitest";
import type { HelperStatus, HelperView } from "./bindings";
import { canStop, countStates, flatten, HelperIndex, isLive, matches, type Row, SHOWN_STATES, shownState } from "./helpers";

let seq = 0;
function helper(over: Partial<HelperView> = {}): HelperView {
  const n = seq++;
  return {
    id: `h${n}`, name: `helper-${n}`, parentId: "orchestrator", swarmId: "swarm-a", task: null,
    status: "running", desiredState: "running", progress: null, currentTask: null,
    createdAt: "2026-01-01T00:00:00Z", ttlExpiresAt: "2026-01-01T00:10:00Z", lastHeartbeat: "2026-01-01T00:00:00Z",
    stale: false, stopDeadline: null, stopReason: null, stopBy: null, retiredAt: null, retireReason: null,
    ...over,
  };
}
const retired = (over: Partial<HelperView> = {}) =>
  helper({ status: "retired", retiredAt: "2026-01-01T00:05:00Z", retireReason: "tray_drained", ...over });

/** A compact picture of the rows: "S swarm", "P parent", "H name state". */
const shape = (rows: Row[]) =>
  rows.map((r) => (r.kind === "swarm" ? `S ${r.swarmId}` : r.kind === "parent" ? `P ${r.parentId}` : `H ${r.helper.name} ${r.state}`));

describe("helper states", () => {
  it("shows stale over a live state only", () => {
    expect(shownState(helper({ stale: true }))).toBe("stale");
    expect(shownState(helper({ stale: true, status: "sleeping" }))).toBe("stale");
    expect(shownState(retired({ stale: true }))).toBe("retired");
    expect(shownState(helper({ stale: true, status: "stopped" }))).toBe("stopped");
  });
  it("counts live helpers as live, retired and stopped ones not", () => {
    for (const s of ["running", "idle", "blocked", "sleeping"] as HelperStatus[]) expect(isLive(helper({ status: s }))).toBe(true);
    expect(isLive(retired())).toBe(false);
    expect(isLive(helper({ status: "stopped" }))).toBe(false);
  });
  it("offers a stop order for live helpers not yet ordered to stop", () => {
    expect(canStop(helper())).toBe(true);
    expect(canStop(helper({ status: "idle", stale: true }))).toBe(true);
    expect(canStop(helper({ desiredState: "stopped", stopReason: "r", stopBy: "op" }))).toBe(false);
    expect(canStop(helper({ status: "stopped" }))).toBe(false);
    expect(canStop(retired())).toBe(false);
  });
  it("lists stale after the live states", () => {
    expect(SHOWN_STATES).toEqual(["running", "idle", "blocked", "sleeping", "stale", "stopped", "retired"]);
  });
});

describe("flattening", () => {
  it("groups by swarm then parent, parents by id, helpers by name (numerically) then id", () => {
    const rows = flatten([
      helper({ name: "helper-10", swarmId: "s1", parentId: "p2" }),
      helper({ name: "helper-2", swarmId: "s1", parentId: "p2" }),
      helper({ name: "b", swarmId: "s1", parentId: "p1" }),
      helper({ id: "z", name: "same", swarmId: "s0", parentId: "p1" }),
      helper({ id: "a", name: "same", swarmId: "s0", parentId: "p1" }),
    ]);
    expect(shape(rows)).toEqual([
      "S s0", "P p1", "H same running", "H same running",
      "S s1", "P p1", "H b running", "P p2", "H helper-2 running", "H helper-10 running",
    ]);
    const same = rows.flatMap((r) => (r.kind === "helper" && r.helper.name === "same" ? [r.helper.id] : []));
    expect(same).toEqual(["a", "z"]);
  });

  it("sorts a finished swarm below a live one", () => {
    const rows = flatten([
      retired({ name: "done", swarmId: "swarm-a" }),
      retired({ name: "done-too", swarmId: "swarm-a" }),
      helper({ name: "busy", swarmId: "swarm-z" }),
      retired({ name: "finished", swarmId: "swarm-z" }),
      helper({ name: "stopped", swarmId: "swarm-b", status: "stopped" }),
    ]);
    expect(rows.filter((r) => r.kind === "swarm").map((r) => (r.kind === "swarm" ? r.swarmId : ""))).toEqual([
      "swarm-z", "swarm-a", "swarm-b",
    ]);
    const z = rows[0];
    expect(z).toMatchObject({ kind: "swarm", swarmId: "swarm-z", live: 1, total: 2 });
  });

  it("moves a swarm below the live ones when its last helper retires, and back when one comes alive", () => {
    const index = new HelperIndex();
    const a = helper({ swarmId: "swarm-a" });
    const b = helper({ swarmId: "swarm-b" });
    index.apply([a, b]);
    const swarms = () => index.rows().flatMap((r) => (r.kind === "swarm" ? [r.swarmId] : []));
    expect(swarms()).toEqual(["swarm-a", "swarm-b"]);
    index.apply([{ ...a, status: "retired", retiredAt: "2026-01-01T00:05:00Z" }]);
    expect(swarms()).toEqual(["swarm-b", "swarm-a"]);
    index.apply([helper({ swarmId: "swarm-a", status: "idle" })]);
    expect(swarms()).toEqual(["swarm-a", "swarm-b"]);
  });

  it("shows headers only above helpers that pass the filters", () => {
    const all = [
      helper({ name: "writer", swarmId: "s1", parentId: "p1", currentTask: "Draft the README" }),
      helper({ name: "reader", swarmId: "s1", parentId: "p2" }),
      helper({ name: "other", swarmId: "s2", parentId: "p1", stale: true }),
      retired({ name: "gone", swarmId: "s3", parentId: "p1" }),
    ];
    expect(shape(flatten(all, "  readme "))).toEqual(["S s1", "P p1", "H writer running"]);
    expect(shape(flatten(all, "P2"))).toEqual(["S s1", "P p2", "H reader running"]);
    expect(shape(flatten(all, "", "stale"))).toEqual(["S s2", "P p1", "H other stale"]);
    expect(shape(flatten(all, "", "retired"))).toEqual(["S s3", "P p1", "H gone retired"]);
    expect(flatten(all, "nothing matches")).toEqual([]);
    expect(flatten(all, "writer", "retired")).toEqual([]);
  });

  it("matches on the raw text, not the escaped one", () => {
    const h = helper({ name: "mail\u202Etob" });
    expect(matches(h, "mail\u202e", "")).toBe(true);
    expect(matches(h, "u+202e", "")).toBe(false);
  });

  it("gives every row a distinct key", () => {
    const rows = flatten([
      helper({ id: "x", swarmId: "s", parentId: "p" }),
      helper({ id: "y", swarmId: "s", parentId: "x" }),
      helper({ id: "s", swarmId: "x", parentId: "s" }),
    ]);
    expect(new Set(rows.map((r) => r.key)).size).toBe(rows.length);
  });
});

describe("counts", () => {
  it("counts per shown state", () => {
    const all = [helper(), helper(), helper({ stale: true }), helper({ status: "idle" }), retired(), helper({ status: "stopped" })];
    const index = new HelperIndex();
    index.apply(all);
    expect(index.counts).toEqual({ running: 2, stale: 1, idle: 1, retired: 1, stopped: 1 });
    expect(countStates(all)).toEqual(index.counts);
  });

  it("moves a helper's count as its state changes, within and across batches", () => {
    const index = new HelperIndex();
    const h = helper();
    index.apply([h]);
    expect(index.counts).toEqual({ running: 1 });
    index.apply([{ ...h, stale: true }]);
    expect(index.counts).toEqual({ stale: 1 });
    // The last update of a batch wins.
    index.apply([{ ...h, status: "idle" }, { ...h, status: "retired", retireReason: "heartbeat_timeout" }]);
    expect(index.counts).toEqual({ retired: 1 });
    expect(index.size).toBe(1);
  });

  it("keeps the incremental counts, groups and order equal to a recount after a burst of 1,000 updates", () => {
    const statuses: HelperStatus[] = ["running", "idle", "blocked", "sleeping", "stopped", "retired"];
    let r = 42;
    const rand = (n: number) => ((r = (r * 1103515245 + 12345) % 2 ** 31), r % n);
    const index = new HelperIndex();
    const latest = new Map<string, HelperView>();
    const ids = Array.from({ length: 300 }, (_, i) => `id-${i}`);
    for (let round = 0; round < 10; round++) {
      const batch: HelperView[] = [];
      for (let i = 0; i < 100; i++) {
        const id = ids[rand(ids.length)];
        const h = helper({
          id, name: `helper-${rand(50)}`, swarmId: `swarm-${rand(7)}`, parentId: `p-${rand(3)}`,
          status: statuses[rand(statuses.length)], stale: rand(4) === 0,
        });
        batch.push(h);
        latest.set(id, h);
      }
      expect(index.apply(batch)).toBe(true);
      expect(index.counts).toEqual(countStates(latest.values()));
      expect(index.rows()).toEqual(flatten(latest.values()));
      expect(index.rows("helper-1", "running")).toEqual(flatten(latest.values(), "helper-1", "running"));
      expect(index.size).toBe(latest.size);
    }
  });

  it("reports no change for a batch that changes nothing", () => {
    const index = new HelperIndex();
    const h = helper();
    expect(index.apply([h])).toBe(true);
    expect(index.apply([h])).toBe(false);
    expect(index.apply([])).toBe(false);
  });
});
