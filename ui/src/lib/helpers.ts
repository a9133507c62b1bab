// The Helpers view's state, kept incrementally: helpers by id, grouped by
// swarm then parent, with counts per shown state and live helpers per swarm
// maintained as updates arrive (no full recount per event), flattened into
// one list of display rows for the virtualized view.
import type { HelperView } from "./bindings";
import { HELPER_STATUSES, LIVE_HELPER_STATUSES } from "./bindings";

const LIVE: readonly string[] = LIVE_HELPER_STATUSES;

/** States in the filter and the counts: the hub's, plus "stale" after the live ones. */
export const SHOWN_STATES: readonly string[] = [...LIVE, "stale", ...HELPER_STATUSES.filter((s) => !LIVE.includes(s))];

/** Live: reporting heartbeats (HelperStatus::is_live); retired and stopped helpers are not. */
export const isLive = (h: HelperView): boolean => h.status !== "retired" && LIVE.includes(h.status);

/** A stop order can be given: the helper is live and none was given yet. */
export const canStop = (h: HelperView): boolean => isLive(h) && h.desiredState !== "stopped";

/** The state shown: stale wins over the reported one while a helper is live (HelperView::shown_state). */
export const shownState = (h: HelperView): string => (h.stale && isLive(h) ? "stale" : h.status);

/** Does a helper pass the text filter (already trimmed and lower-cased) and the state filter? */
export function matches(h: HelperView, query: string, stateFilter: string): boolean {
  if (stateFilter && shownState(h) !== stateFilter) return false;
  if (!query) return true;
  return `${h.name} ${h.swarmId} ${h.parentId} ${h.currentTask ?? ""}`.toLowerCase().includes(query);
}

export type SwarmRow = { kind: "swarm"; key: string; swarmId: string; live: number; total: number };
export type ParentRow = { kind: "parent"; key: string; swarmId: string; parentId: string };
export type HelperRow = { kind: "helper"; key: string; helper: HelperView; state: string };
/** One line of the view: a swarm header, a parent header or a helper. */
export type Row = SwarmRow | ParentRow | HelperRow;

// Numeric, so helper-2 sorts before helper-10; the same order on every machine for ASCII ids.
const collator = new Intl.Collator("en", { numeric: true });
const compare = (a: string, b: string) => collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);

/** A parent's helpers, with their order cached until one is added, removed or renamed. */
class ParentGroup {
  readonly helpers = new Map<string, HelperView>();
  private order: string[] | null = null;
  invalidate() {
    this.order = null;
  }
  ids(): string[] {
    if (!this.order) {
      this.order = [...this.helpers.values()]
        .sort((a, b) => compare(a.name, b.name) || compare(a.id, b.id))
        .map((h) => h.id);
    }
    return this.order;
  }
}

class SwarmGroup {
  readonly parents = new Map<string, ParentGroup>();
  live = 0;
  total = 0;
  private order: string[] | null = null;
  invalidate() {
    this.order = null;
  }
  parentIds(): string[] {
    return (this.order ??= [...this.parents.keys()].sort(compare));
  }
}

/**
 * Every helper seen, grouped and counted. `apply` takes a batch of updates
 * (the latest view of each helper) and adjusts the counts, groups and cached
 * orders for just those helpers; `rows` walks the groups once.
 */
export class HelperIndex {
  private readonly byId = new Map<string, HelperView>();
  private readonly swarms = new Map<string, SwarmGroup>();
  private swarmOrder: string[] | null = null;
  /** Helpers per shown state, over all helpers (not just the filtered ones). */
  readonly counts: Record<string, number> = {};

  get size(): number {
    return this.byId.size;
  }

  get(id: string): HelperView | undefined {
    return this.byId.get(id);
  }

  /** Apply a batch of helper updates; later entries for the same id win. Returns whether anything changed. */
  apply(batch: Iterable<HelperView>): boolean {
    let changed = false;
    for (const h of batch) {
      const prev = this.byId.get(h.id);
      if (prev === h) continue;
      changed = true;
      this.byId.set(h.id, h);
      if (prev) this.count(prev, -1);
      this.count(h, 1);
      if (prev && prev.swarmId === h.swarmId && prev.parentId === h.parentId) {
        const parent = this.swarms.get(h.swarmId)!.parents.get(h.parentId)!;
        parent.helpers.set(h.id, h);
        if (prev.name !== h.name) parent.invalidate();
        this.liveDelta(h.swarmId, Number(isLive(h)) - Number(isLive(prev)));
      } else {
        if (prev) this.unplace(prev);
        this.place(h);
      }
    }
    return changed;
  }

  private count(h: HelperView, delta: number) {
    const s = shownState(h);
    const n = (this.counts[s] ?? 0) + delta;
    if (n) this.counts[s] = n;
    else delete this.counts[s];
  }

  private liveDelta(swarmId: string, delta: number) {
    if (!delta) return;
    const swarm = this.swarms.get(swarmId)!;
    const wasLive = swarm.live > 0;
    swarm.live += delta;
    if (wasLive !== swarm.live > 0) this.swarmOrder = null;
  }

  private place(h: HelperView) {
    let swarm = this.swarms.get(h.swarmId);
    if (!swarm) {
      this.swarms.set(h.swarmId, (swarm = new SwarmGroup()));
      this.swarmOrder = null;
    }
    let parent = swarm.parents.get(h.parentId);
    if (!parent) {
      swarm.parents.set(h.parentId, (parent = new ParentGroup()));
      swarm.invalidate();
    }
    parent.helpers.set(h.id, h);
    parent.invalidate();
    swarm.total++;
    this.liveDelta(h.swarmId, Number(isLive(h)));
  }

  private unplace(h: HelperView) {
    const swarm = this.swarms.get(h.swarmId)!;
    const parent = swarm.parents.get(h.parentId)!;
    parent.helpers.delete(h.id);
    parent.invalidate();
    this.liveDelta(h.swarmId, -Number(isLive(h)));
    swarm.total--;
    if (!parent.helpers.size) {
      swarm.parents.delete(h.parentId);
      swarm.invalidate();
    }
    if (!swarm.parents.size) {
      this.swarms.delete(h.swarmId);
      this.swarmOrder = null;
    }
  }

  /** Swarms with a live helper first, then finished ones; each part by swarm id. */
  private swarmIds(): string[] {
    if (!this.swarmOrder) {
      const live = (id: string) => (this.swarms.get(id)!.live > 0 ? 0 : 1);
      this.swarmOrder = [...this.swarms.keys()].sort((a, b) => live(a) - live(b) || compare(a, b));
    }
    return this.swarmOrder;
  }

  /**
   * The display rows for a filter: per swarm (live first) a header, per
   * parent (by id) a header, then its helpers (by name, then id). Headers
   * appear only above helpers that pass the filter.
   */
  rows(filter = "", stateFilter = ""): Row[] {
    const query = filter.trim().toLowerCase();
    const out: Row[] = [];
    for (const swarmId of this.swarmIds()) {
      const swarm = this.swarms.get(swarmId)!;
      let swarmShown = false;
      for (const parentId of swarm.parentIds()) {
        const parent = swarm.parents.get(parentId)!;
        let parentShown = false;
        for (const id of parent.ids()) {
          const h = parent.helpers.get(id)!;
          if (!matches(h, query, stateFilter)) continue;
          if (!swarmShown) {
            out.push({ kind: "swarm", key: `s:${swarmId}`, swarmId, live: swarm.live, total: swarm.total });
            swarmShown = true;
          }
          if (!parentShown) {
            out.push({ kind: "parent", key: `p:${swarmId}\u0000${parentId}`, swarmId, parentId });
            parentShown = true;
          }
          out.push({ kind: "helper", key: `h:${id}`, helper: h, state: shownState(h) });
        }
      }
    }
    return out;
  }
}

/** Helpers per shown state, counted from scratch (the index keeps the same counts incrementally). */
export function countStates(helpers: Iterable<HelperView>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const h of helpers) out[shownState(h)] = (out[shownState(h)] ?? 0) + 1;
  return out;
}

/** The display rows for a set of helpers, from scratch. */
export function flatten(helpers: Iterable<HelperView>, filter = "", stateFilter = ""): Row[] {
  const index = new HelperIndex();
  index.apply(helpers);
  return index.rows(filter, stateFilter);
}
