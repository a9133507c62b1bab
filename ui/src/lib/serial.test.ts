import { describe, expect, it } from "vitest";
import { serial } from "./serial";

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
