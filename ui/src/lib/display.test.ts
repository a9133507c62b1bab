/// <reference types="vite/client" />
// The shared corpus (crates/protocol/tests/display_corpus.json) that the
// Rust rules (crates/protocol/tests/display_corpus.rs) pass too.
import { describe, expect, it } from "vitest";
import corpusText from "../../../crates/protocol/tests/display_corpus.json?raw";
import {
  actionWarnings, actorLabel, escape, escapeMultiline, evidenceSubmitter, identifierWarnings, needsEscape,
  prettyEscaped, short, shortenMiddle, TARGET_MAX, targetHost, targetWarnings,
} from "./display";

type Str = { name: string; input: string; escaped: string; warnings: string[] };
type Corpus = {
  strings: Str[];
  multiline: { input: string; escaped: string }[];
  shorten: { input: string; max: number; short: string }[];
  targets: { input: string; host: string; warnings: string[]; short: string }[];
  actors: { name: string; principal: string | null; target: string | null; label: string; warnings: string[] }[];
  submitters: { principal: string | null; via: string | null; text: string }[];
};
const corpus = JSON.parse(corpusText) as Corpus;

describe("display corpus (shared with Rust)", () => {
  it("has every section", () => {
    for (const k of ["strings", "multiline", "shorten", "targets", "actors", "submitters"] as const) expect(corpus[k].length).toBeGreaterThan(0);
  });
  it.each(corpus.strings.map((c) => [c.name, c] as const))("escapes and warns: %s", (_, c) => {
    expect(escape(c.input)).toBe(c.escaped);
    expect(identifierWarnings(c.input)).toEqual(c.warnings);
  });
  it("keeps the layout's line feeds in multi-line text", () => {
    for (const c of corpus.multiline) expect(escapeMultiline(c.input)).toBe(c.escaped);
  });
  it("shortens in the middle", () => {
    for (const c of corpus.shorten) expect(shortenMiddle(escape(c.input), c.max), JSON.stringify(c)).toBe(c.short);
  });
  it("finds hosts and warns about targets", () => {
    for (const c of corpus.targets) {
      expect(targetHost(c.input)).toBe(c.host);
      expect(targetWarnings(c.input)).toEqual(c.warnings);
      expect(short(c.input, TARGET_MAX)).toBe(c.short);
    }
  });
  it("labels actors and who submitted evidence", () => {
    for (const c of corpus.actors) {
      expect(actorLabel(c.name, c.principal)).toBe(c.label);
      expect(actionWarnings(c.name, c.principal, c.target)).toEqual(c.warnings);
    }
    for (const c of corpus.submitters) expect(evidenceSubmitter(c.principal, c.via)).toBe(c.text);
  });
});

describe("display (UI only)", () => {
  it("escapes lone surrogates, which Rust strings cannot hold", () => {
    expect(escape("a\uD800b")).toBe("a\u27E6U+D800\u27E7b");
  });
  it("escapes pretty-printed JSON without breaking its layout", () => {
    const text = prettyEscaped({ to: "evil\u202Emoc.com", nul: "\u0000" });
    expect(text).toContain("evil\u27E6U+202E\u27E7moc.com");
    expect(text).not.toMatch(/\u202E/);
    expect(text.split("\n").length).toBe(4);
  });
  it("never leaves a character that needs escaping", () => {
    const all = Array.from({ length: 0x3000 }, (_, i) => String.fromCodePoint(i)).join("");
    expect(Array.from(escape(all)).filter((c) => needsEscape(c) && c !== "\u27E6" && c !== "\u27E7")).toEqual([]);
  });
});
