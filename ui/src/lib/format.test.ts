import { describe, expect, it } from "vitest";
import { countdown, duration, pretty } from "./format";

describe("format", () => {
  it("formats durations", () => {
    expect(duration(5_000)).toBe("5s");
    expect(duration(125_000)).toBe("2m 05s");
    expect(duration(3_900_000)).toBe("1h 05m");
    expect(duration(-1)).toBe("0s");
  });
  it("counts down to a deadline", () => {
    const now = Date.parse("2026-11-21T10:00:00Z");
    expect(countdown(null, now).text).toBe("no deadline");
    expect(countdown("2026-11-21T10:00:30Z", now)).toEqual({ text: "30s", urgent: true, passed: false });
    expect(countdown("2026-11-21T09:59:00Z", now).passed).toBe(true);
  });
  it("pretty-prints params without evaluating them", () => {
    expect(pretty({ a: "<script>alert(1)</script>" })).toContain("<script>alert(1)</script>");
  });
});
