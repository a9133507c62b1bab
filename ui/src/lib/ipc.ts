// The only place the UI talks to the Rust side. Payload types mirror the
// Rust types in crates/protocol (wire.rs) and src-tauri (commands.rs).
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type {
  ApprovalItem, ConsoleState, Connection, QueuePage, QueueQuery, QueueSignal, DecisionRequest, DecisionResult, ErrorBody, Focus, Info, TraceQuery, TraceList,
  BatchItem, BatchResult, DecisionError, SettingsView, Verdict,
  VerifiedTrace, PrincipalView, GrantRecord, GrantOp, GrantPreview, MesaPrincipal, HelperView, PrincipalCreated,
} from "./types";

export function isErrorBody(e: unknown): e is ErrorBody {
  return typeof e === "object" && e !== null && "code" in e && "message" in e;
}

export const getState = () => invoke<ConsoleState>("get_state");
export const queuePage = (query: QueueQuery) => invoke<QueuePage>("queue_page", { query });
export const queueItem = (actionId: string) => invoke<ApprovalItem | null>("queue_item", { actionId });
export const decide = (request: DecisionRequest) => invoke<DecisionResult>("decide", { request });
export const decideBatch = (items: BatchItem[], verdict: Verdict, reason: string | null) =>
  invoke<BatchResult[]>("decide_batch", { items, verdict, reason });
export const undoDecision = (outboxId: number) => invoke<void>("undo_decision", { outboxId });
export const extendHold = (actionId: string, by: string, reason: string, shownDigest?: string | null) =>
  invoke<ApprovalItem>("extend_hold", { actionId, by, reason, shownDigest: shownDigest ?? null });
export const getSettings = () => invoke<SettingsView>("get_settings");
export const listTraces = (filter: TraceQuery) => invoke<TraceList>("list_traces", { filter });
export const verifyTrace = (actionId: string) => invoke<VerifiedTrace>("verify_trace", { actionId });
export const exportTrace = (actionId: string) => invoke<string>("export_trace", { actionId });
export const listPrincipals = () => invoke<PrincipalView[]>("list_principals");
export const listHelpers = () => invoke<HelperView[]>("list_helpers");
export const onHelper = (f: (h: HelperView) => void) => listen<HelperView>("helper", (e) => f(e.payload));
/** A signed stop order, with the operator's reason. */
export const stopHelper = (id: string, reason: string) => invoke<HelperView>("stop_helper", { id, reason });
/** Traces changed: the ids of those that did (null: many). */
export const onTraces = (f: (ids: string[] | null) => void) => listen<string[] | null>("traces", (e) => f(e.payload));
/** A principal was added or its capabilities changed. */
export const onPrincipals = (f: () => void) => listen<null>("principals", () => f());
/** The answer's API token is shown once and kept nowhere. */
export const addPrincipal = (id: string, org: string, publicKey: string | null) =>
  invoke<PrincipalCreated>("add_principal", { id, org, publicKey });
export const principalHistory = (id: string) => invoke<GrantRecord[]>("principal_history", { id });
export const knownActionTypes = () => invoke<string[]>("known_action_types");
export const prepareGrant = (op: GrantOp, principal: string, capabilities: string[], expiry: string, reason: string) =>
  invoke<GrantPreview>("prepare_grant", { op, principal, capabilities, expiry, reason });
export const confirmGrant = (grantId: string) => invoke<PrincipalView>("confirm_grant", { grantId });
export const mesaConnect = (url: string, token: string) => invoke<MesaPrincipal[]>("mesa_connect", { url, token });
export const mesaPrincipals = () => invoke<MesaPrincipal[]>("mesa_principals");
export const mesaSetCapabilities = (id: string, capabilities: string[]) =>
  invoke<MesaPrincipal>("mesa_set_capabilities", { id, capabilities });
export const saveSettings = (hub: string | null, operator: string | null, sound: boolean, mutedAgents: string[], autostart: boolean) =>
  invoke<SettingsView>("save_settings", { hub, operator, sound, mutedAgents, autostart });

export interface Handlers {
  /** The queue changed: its headline numbers; ask again for the rows shown. */
  queue: (q: QueueSignal) => void;
  connection: (c: Connection) => void;
  ready: (i: Info) => void;
  startupError: (e: ErrorBody) => void;
  focusHold: (f: Focus) => void;
  decisionError: (e: DecisionError) => void;
}

export async function subscribe(h: Handlers): Promise<UnlistenFn> {
  const offs = await Promise.all([
    listen<QueueSignal>("queue", (e) => h.queue(e.payload)),
    listen<Connection>("connection", (e) => h.connection(e.payload)),
    listen<Info>("ready", (e) => h.ready(e.payload)),
    listen<ErrorBody>("startup-error", (e) => h.startupError(e.payload)),
    listen<Focus>("focus-hold", (e) => h.focusHold(e.payload)),
    listen<DecisionError>("decision-error", (e) => h.decisionError(e.payload)),
  ]);
  return () => offs.forEach((off) => off());
}
