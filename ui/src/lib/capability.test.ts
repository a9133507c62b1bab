import { describe, expect, it } from "vitest";
import { splitCapabilities, validCapability } from "./capability";

describe("capabilities", () => {
  it("accepts action types and prefix patterns", () => {
    for (const ok of ["send_email", "email.*", "payment.refund", "a:b-c_d"]) expect(validCapability(ok)).toBe(true);
  });
  it("refuses what the hub refuses", () => {
    for (const bad of ["", ".*", "email.", "*", "email..send", "e mail", "<script>", "x.*.*"]) expect(validCapability(bad)).toBe(false);
  });
  it("splits free entry", () => {
    expect(splitCapabilities(" send_email, read.*  merge_pr ")).toEqual(["send_email", "read.*", "merge_pr"]);
  });
});
