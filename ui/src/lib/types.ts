// IPC payload types: generated from the Rust types (bindings.ts, checked by a
// test in src-tauri/src/bindings.rs), re-exported under the names the UI uses.
export type {
  ActionDetail, ActionStatus, Actor, ApprovalItem, Connection, ConsoleState, DecisionResult, DecisionView,
  ErrorBody, Focus, HoldKind, HoldStatus, HoldView, ConfirmMode, Confirmation, DecisionRequest, UndoWindow, Info, Settings, Verdict,
  TraceSummary, TraceList, TraceQuery, TraceEvent, TraceBundle, Report, Problem, VerifiedTrace,
  GrantOp, GrantBody, GrantPreview, CapabilityView, PrincipalView, PrincipalCreated, GrantRecord, MesaPrincipal, HelperView, HelperStatus, LinkState,
  QueuePage, QueueQuery, QueueShow, QueueSignal, QueueSort,
  BatchItem, BatchOutcome, BatchResult, DecisionError, SettingsView, Source,
} from "./bindings";
