import { describe, expect, it, vi } from "vitest";
import { paced, serial } from "./serial";

describe("serial", () => {
  it("runs once at a time and folds calls made meanwhile into one more run", async () => {
    let runs = 0;
    let inFlight = 0;
    let most = 0;
    const gates: Array<() => void> = [];
    const run = serial(async () => {
      runs++;
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise<void>((r) => gates.push(r));
      inFlight--;
    });
    const first = run();
    run();
    run();
    run();
    expect(runs).toBe(1);
    gates.shift()!();
    await new Promise((r) => setTimeout(r, 0));
    expect(runs).toBe(2);
    gates.shift()!();
    await first;
    expect(runs).toBe(2);
    expect(most).toBe(1);
    run();
    expect(runs).toBe(3);
    gates.shift()!();
  });

  it("is ready again after a run fails", async () => {
    let calls = 0;
    const run = serial(async () => {
      calls++;
      if (calls === 1) throw new Error("boom");
    });
    await expect(run()).rejects.toThrow("boom");
    await run();
    expect(calls).toBe(2);
  });
});

describe("paced", () => {
  it("runs at once while nothing changed, then at most once per pause while it keeps changing", () => {
    vi.useFakeTimers();
    try {
      let t = 0;
      let runs = 0;
      const p = paced(() => runs++, 200, () => t);
      p.request();
      p.request();
      expect(runs).toBe(2);
      p.changed();
      p.request();
      p.request();
      p.request();
      expect(runs).toBe(2);
      t = 150;
      vi.advanceTimersByTime(150);
      expect(runs).toBe(2);
      t = 200;
      vi.advanceTimersByTime(50);
      expect(runs).toBe(3);
      // Held still since: at once again.
      t = 450;
      p.request();
      expect(runs).toBe(4);
      p.changed();
      p.request();
      p.cancel();
      vi.advanceTimersByTime(1000);
      expect(runs).toBe(4);
    } finally {
      vi.useRealTimers();
    }
  });
});
