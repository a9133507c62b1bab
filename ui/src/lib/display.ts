// How text that came from an agent is shown: the twin of
// crates/protocol/src/display.rs (read its module doc for the rules). Both
// pass the same corpus, crates/protocol/tests/display_corpus.json
// (display.test.ts here), so they cannot drift. Svelte text interpolation
// already keeps markup inert; this keeps characters visible.
import { ASCII_LOOKALIKES, SCRIPT_NAMES } from "./display.generated";

export const ESCAPE_OPEN = "\u27E6";
export const ESCAPE_CLOSE = "\u27E7";
export const ELLIPSIS = "\u2026";
/** Width an actor name or principal id gets in actorLabel. */
export const NAME_MAX = 64;
/** Width a target gets in a queue row or a table. */
export const TARGET_MAX = 80;

// Cc, Cf (bidi controls, zero-width characters, tags), Zl, Zp, Co, lone
// surrogates, every other Default_Ignorable_Code_Point (variation selectors,
// fillers, the combining grapheme joiner), and the escape brackets.
const NEEDS_ESCAPE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cs}\p{Default_Ignorable_Code_Point}\u27E6\u27E7]/u;
const MARK = /^\p{M}/u;

/** Code points of a string (lone surrogates included, as themselves). */
function codePoints(s: string): string[] {
  return Array.from(s);
}

export function needsEscape(ch: string): boolean {
  return NEEDS_ESCAPE.test(ch);
}

function hex(ch: string): string {
  return "U+" + (ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0");
}

/** `s` with every character that needsEscape shown as ⟦U+XXXX⟧ (newlines too). */
export function escape(s: string): string {
  let out = "";
  for (const ch of codePoints(s)) out += needsEscape(ch) ? ESCAPE_OPEN + hex(ch) + ESCAPE_CLOSE : ch;
  return out;
}

/** escape for multi-line text we laid out ourselves (pretty-printed JSON): line feeds stay. */
export function escapeMultiline(s: string): string {
  return s.split("\n").map(escape).join("\n");
}

/** Display units of escaped text: an escape is one unit, never cut inside. */
function units(s: string): string[] {
  const cps = codePoints(s);
  const out: string[] = [];
  for (let i = 0; i < cps.length; i++) {
    if (cps[i] === ESCAPE_OPEN) {
      const end = cps.indexOf(ESCAPE_CLOSE, i);
      if (end >= 0) {
        out.push(cps.slice(i, end + 1).join(""));
        i = end;
        continue;
      }
    }
    out.push(cps[i]);
  }
  return out;
}

const width = (u: string) => codePoints(u).length;

/** At most `max` characters of escaped text: its start, …, and its end (the domain stays visible). */
export function shortenMiddle(escaped: string, max: number): string {
  const us = units(escaped);
  const total = us.reduce((n, u) => n + width(u), 0);
  if (total <= max) return escaped;
  const budget = Math.max(0, max - 1);
  const headBudget = Math.floor(budget / 2);
  let head = 0;
  let used = 0;
  while (head < us.length && used + width(us[head]) <= headBudget) used += width(us[head++]);
  const tailBudget = budget - used;
  let tail = us.length;
  let tailUsed = 0;
  while (tail > head && tailUsed + width(us[tail - 1]) <= tailBudget) tailUsed += width(us[--tail]);
  while (tail < us.length && MARK.test(us[tail])) tail++;
  return us.slice(0, head).join("") + ELLIPSIS + us.slice(tail).join("");
}

/** escape then shortenMiddle. */
export function short(s: string, max: number): string {
  return shortenMiddle(escape(s), max);
}

let lookalikes: Map<number, string> | null = null;

/** The ASCII text a non-ASCII character passes for (its UTS #39 skeleton), if any. */
export function asciiLookalike(ch: string): string | undefined {
  if (!lookalikes) {
    lookalikes = new Map();
    for (const line of ASCII_LOOKALIKES.split("\n")) {
      const sp = line.indexOf(" ");
      lookalikes.set(parseInt(line.slice(0, sp), 16), line.slice(sp + 1));
    }
  }
  return lookalikes.get(ch.codePointAt(0) ?? 0);
}

// Script data from the engine's own Unicode tables, one regex per script
// name the Rust side knows (names this engine does not know are skipped).
let scriptRes: { name: string; sc: RegExp; scx: RegExp }[] | null = null;
function scripts() {
  if (!scriptRes) {
    scriptRes = [];
    for (const name of SCRIPT_NAMES) {
      try {
        scriptRes.push({ name, sc: new RegExp(`^\\p{Script=${name}}$`, "u"), scx: new RegExp(`^\\p{Script_Extensions=${name}}$`, "u") });
      } catch {
        // Unknown to this engine's Unicode version.
      }
    }
  }
  return scriptRes;
}

const scriptCache = new Map<string, string>();
function scriptOf(ch: string): string {
  let s = scriptCache.get(ch);
  if (s === undefined) {
    s = scripts().find((r) => r.sc.test(ch))?.name ?? "Unknown";
    scriptCache.set(ch, s);
  }
  return s;
}

/** A UTS #39 augmented script set; `all` for Common and Inherited. */
interface Aug {
  all: boolean;
  base: Set<string>;
  hanb: boolean;
  jpan: boolean;
  kore: boolean;
}

function augOf(ch: string): Aug {
  const scx = new Set(scripts().filter((r) => r.scx.test(ch)).map((r) => r.name));
  if (scx.has("Common") || scx.has("Inherited")) return { all: true, base: new Set(), hanb: true, jpan: true, kore: true };
  scx.delete("Unknown");
  const han = scx.has("Han");
  return {
    all: false,
    base: scx,
    hanb: han || scx.has("Bopomofo"),
    jpan: han || scx.has("Hiragana") || scx.has("Katakana"),
    kore: han || scx.has("Hangul"),
  };
}

function isSingleScript(s: string): boolean {
  let set: Aug = { all: true, base: new Set(), hanb: true, jpan: true, kore: true };
  for (const ch of codePoints(s)) {
    const a = augOf(ch);
    if (a.all) continue;
    set = set.all
      ? a
      : { all: false, base: new Set([...set.base].filter((x) => a.base.has(x))), hanb: set.hanb && a.hanb, jpan: set.jpan && a.jpan, kore: set.kore && a.kore };
  }
  return set.all || set.base.size > 0 || set.hanb || set.jpan || set.kore;
}

const isAscii = (s: string) => /^[\x00-\x7F]*$/.test(s);

function hiddenWarning(s: string): string | null {
  const seen: string[] = [];
  for (const ch of codePoints(s)) {
    if (needsEscape(ch) && ch !== ESCAPE_OPEN && ch !== ESCAPE_CLOSE && !seen.includes(ch)) seen.push(ch);
  }
  if (!seen.length) return null;
  const list = seen.slice(0, 4).map(hex);
  if (seen.length > 4) list.push(ELLIPSIS);
  return `invisible or control characters: ${list.join(" ")}`;
}

function scriptWarnings(raw: string): string[] {
  const s = codePoints(raw).filter((ch) => !needsEscape(ch)).join("");
  const out: string[] = [];
  if (!isSingleScript(s)) {
    const names: string[] = [];
    for (const ch of codePoints(s)) {
      const sc = scriptOf(ch);
      if (sc !== "Common" && sc !== "Inherited" && !names.includes(sc)) names.push(sc);
    }
    out.push(`mixed scripts: ${names.join("+")}`);
  }
  if (!isAscii(s)) {
    let replaced = false;
    let look = "";
    for (const ch of codePoints(s)) {
      const a = isAscii(ch) ? undefined : asciiLookalike(ch);
      if (a !== undefined) {
        replaced = true;
        look += a;
      } else {
        look += ch;
      }
    }
    if (replaced && isAscii(look)) out.push(`confusable with "${short(look, NAME_MAX)}"`);
  }
  return out;
}

/** Warnings about an identifier (actor name, principal id, host). */
export function identifierWarnings(s: string): string[] {
  const h = hiddenWarning(s);
  return [...(h ? [h] : []), ...scriptWarnings(s)];
}

/** The host of a target, or the whole target when it has no scheme. */
export function targetHost(target: string): string {
  let rest: string;
  const i = target.indexOf("://");
  if (i >= 0) {
    rest = target.slice(i + 3);
  } else {
    const c = target.indexOf(":");
    if (c < 0 || !/^[A-Za-z][A-Za-z0-9+.-]*$/.test(target.slice(0, c))) return target;
    rest = target.slice(c + 1);
  }
  const authority = rest.split(/[/?#]/)[0];
  const host = authority.slice(authority.lastIndexOf("@") + 1);
  const m = /^(.*):([0-9]+)$/s.exec(host);
  return m ? m[1] : host;
}

/** Warnings about a target: hidden characters anywhere, scripts and look-alikes in its host. */
export function targetWarnings(target: string): string[] {
  const h = hiddenWarning(target);
  return [...(h ? [h] : []), ...scriptWarnings(targetHost(target))];
}

const proven = (p: string | null | undefined) => (p ? p : null);

/** `mail-bot ✓`, `mail-bot ✓ · claims: trusted-bot`, or `trusted-bot (unverified)`. */
export function actorLabel(actorName: string, principalId: string | null | undefined): string {
  const p = proven(principalId);
  if (p === null) return `${short(actorName, NAME_MAX)} (unverified)`;
  if (p === actorName) return `${short(p, NAME_MAX)} \u2713`;
  return `${short(p, NAME_MAX)} \u2713 \u00b7 claims: ${short(actorName, NAME_MAX)}`;
}

/** Every warning for an action: `⚠ actor: …`, `⚠ principal: …`, `⚠ target: …`. */
export function actionWarnings(actorName: string, principalId: string | null | undefined, target: string | null | undefined): string[] {
  const out = identifierWarnings(actorName).map((w) => `\u26a0 actor: ${w}`);
  const p = proven(principalId);
  if (p !== null && p !== actorName) out.push(...identifierWarnings(p).map((w) => `\u26a0 principal: ${w}`));
  if (target !== null && target !== undefined) out.push(...targetWarnings(target).map((w) => `\u26a0 target: ${w}`));
  return out;
}

const VIA = new Map([["token", "API token"], ["signature", "key signature"], ["status_token", "status token"], ["dev_open", "dev-open"]]);

/** Who submitted an evidence event: `submitted by mail-bot ✓ (API token)` or `submitted anonymously (dev-open)`. */
export function evidenceSubmitter(principal: string | null | undefined, via: string | null | undefined): string {
  const how = (v: string) => VIA.get(v) ?? short(v, NAME_MAX);
  const p = proven(principal);
  if (p === null) return `submitted anonymously (${how(via ?? "dev_open")})`;
  return via === null || via === undefined ? `submitted by ${short(p, NAME_MAX)} \u2713` : `submitted by ${short(p, NAME_MAX)} \u2713 (${how(via)})`;
}

/** Pretty-printed JSON of agent data, escaped (line feeds of the layout kept). */
export function prettyEscaped(v: unknown): string {
  if (v === null || v === undefined) return "\u2014";
  let text: string;
  try {
    text = JSON.stringify(v, null, 2) ?? String(v);
  } catch {
    text = String(v);
  }
  return escapeMultiline(text);
}
