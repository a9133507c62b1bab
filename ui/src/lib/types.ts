// IPC payload types. Hand-mirrored from the Rust types for now:
// crates/protocol/src/wire.rs, crates/operator/src/console.rs,
// crates/operator/src/settings.rs, src-tauri/src/{commands,startup}.rs.
export type Verdict = "approve" | "reject";
export type ActionStatus = "recorded" | "allowed" | "requires_approval" | "approved" | "rejected" | "expired";
export type HoldStatus = "pending" | "approved" | "rejected" | "expired";
export type HoldKind = "trace" | "lodestar";

export interface ErrorBody { code: string; message: string }
export interface Actor { kind: "human" | "agent" | "system"; name: string; provider?: string }
export interface ActionDetail {
  actionId: string; type: string; actor: Actor; target: string | null; params: unknown;
  proposedAt: string | null; receivedAt: string; ruleId: string | null; ruleMode: string | null;
  checks: string[]; status: ActionStatus;
}
export interface HoldView {
  holdId: string; actionId: string; kind: HoldKind; status: HoldStatus; createdAt: string;
  deadline: string | null; reason: string | null; requestId: string | null; projectId: string | null;
  requiredAuthority: unknown;
}
export interface DecisionBody {
  tag: string; action_id: string; hold_id: string; verdict: Verdict; operator_id: string;
  reason: string | null; issued_at: string; expires_at: string;
}
export interface DecisionView {
  operatorId: string; verdict: Verdict; reason: string | null; decidedAt: string; publicKey: string;
  envelope: { decision: DecisionBody; signature: string };
}
export interface ApprovalItem { action: ActionDetail; hold: HoldView | null; decision?: DecisionView }
export interface Connection { state: "live" | "reconnecting" | "offline"; detail: string | null; outboxPending: number }
export interface Info { operator: string; publicKey: string; hubUrl: string; embeddedAgentUrl: string | null }
export interface ConsoleState {
  phase: "starting" | "ready" | "failed"; info: Info | null; error: ErrorBody | null;
  items: ApprovalItem[]; connection: Connection | null;
}
export interface DecisionResult { item: ApprovalItem | null; queued: boolean; message: string }
export interface Settings { hub: string | null; operator: string | null }
