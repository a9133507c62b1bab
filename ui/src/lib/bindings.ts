// Generated from the Rust types by ts-rs (src-tauri/src/bindings.rs). Do not edit:
// GATEHOUSE_BLESS=1 cargo test -p gatehouse-console bindings

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]?: JsonValue } | null;

export type Verdict = "approve" | "reject";

export type ErrorBody = { code: string, message: string, };

export type ActorKind = "human" | "agent" | "system";

export type Actor = { kind: ActorKind, name: string, provider?: string | null, };

export type ActionStatus = "recorded" | "allowed" | "requires_approval" | "approved" | "rejected" | "expired";

export type ActionDetail = { actionId: string, type: string, actor: Actor, target: string | null, params: JsonValue | null, proposedAt: string | null, receivedAt: string, ruleId: string | null, ruleMode: string | null, checks: Array<string>, status: ActionStatus, 
/**
 * The principal the request's credentials proved (an API token, a key
 * signature, or on a `--dev-open` hub an actor name that is a principal's
 * id). `actor.name` is only the agent's claim; this is the fact.
 */
principalId?: string, 
/**
 * Lowercase hex SHA-256 of the canonical JSON of the proposal exactly as
 * the agent sent it ([`crate::decision::action_digest`]); a decision
 * signs it, binding the verdict to this content.
 */
actionDigest?: string, 
/**
 * Set on the live feed when `params` were too large to carry (their
 * size in bytes); `params` is then absent and the full action is read
 * with `GET /operator/actions/{id}`.
 */
paramsOmitted?: number, };

export type HoldKind = "trace" | "lodestar";

export type HoldStatus = "pending" | "approved" | "rejected" | "expired";

export type ConfirmMode = "typed" | "hold";

export type QuorumView = { 
/**
 * Distinct eligible approvals needed.
 */
required: number, 
/**
 * Approvals so far.
 */
approvals: number, 
/**
 * Groups whose members may decide; empty: every approver.
 */
approvers: Array<string>, 
/**
 * Who approved so far, in order.
 */
approvedBy: Array<string>, 
/**
 * When the hold escalates if still undecided.
 */
escalateAt?: string, 
/**
 * Groups the hold is also routed to (and who may then decide) once escalated.
 */
escalateTo: Array<string>, 
/**
 * Whether the escalation happened.
 */
escalated: boolean, };

export type HoldView = { holdId: string, actionId: string, kind: HoldKind, status: HoldStatus, createdAt: string, deadline: string | null, reason: string | null, requestId: string | null, projectId: string | null, requiredAuthority: JsonValue | null, 
/**
 * A deliberate second step the rule demands before approving.
 */
confirm?: ConfirmMode, 
/**
 * For `confirm`: the token the operator types ([`confirm_token`]), filled
 * in by the hub for display; signers compute it themselves.
 */
confirmToken?: string, 
/**
 * Seconds a decision waits in the outbox, undoable, before it is sent.
 */
undoSeconds?: number, 
/**
 * The latest deadline an approver may extend the hold to (its rule's
 * `maxHoldFor` from its creation; see [`crate::extension`]). Absent on
 * holds without a deadline, Lodestar holds, and holds recorded before
 * extensions (which get the default cap).
 */
maxDeadline?: string, 
/**
 * For a hold whose rule asked for a quorum, approver groups or
 * escalation: what it needs and how far it has come.
 */
quorum?: QuorumView, };

export type ResolutionKind = "granted" | "denied";

export type ResolutionSignature = { signer_id: string, payload_hash: string, algorithm: string, signature: string, at: string, };

export type ApprovalResolution = { request_id: string, action_id: string, kind: ResolutionKind, approver_id: string, reason?: string, at: string, signature: ResolutionSignature, };

export type DecisionBody = { tag: string, action_id: string, hold_id: string, verdict: Verdict, operator_id: string, reason: string | null, issued_at: string, expires_at: string, 
/**
 * Lowercase hex SHA-256 of the canonical JSON of the proposal the
 * operator was shown ([`action_digest`]). Absent only in envelopes made
 * before content binding (verifiers report those as not content-bound).
 */
action_digest?: string, };

export type SignedDecision = { decision: DecisionBody, signature: string, lodestar?: ApprovalResolution, };

export type DecisionView = { operatorId: string, verdict: Verdict, reason: string | null, decidedAt: string, publicKey: string, envelope: SignedDecision, 
/**
 * The signer's groups when the hub accepted the decision: what made
 * them eligible for a hold that names approver groups.
 */
groups?: Array<string>, };

export type ApprovalItem = { action: ActionDetail, hold: HoldView | null, decision?: DecisionView | null, 
/**
 * Every signed decision on a quorum hold, in the order accepted (on an
 * action's detail; the queue leaves them out and shows `hold.quorum`).
 */
decisions?: Array<DecisionView>, };

export type LinkState = "connecting" | "live" | "reconnecting" | "offline";

export type Connection = { state: LinkState, 
/**
 * The last error, while not live.
 */
detail: string | null, 
/**
 * Failed attempts in a row.
 */
attempt: number, 
/**
 * When the next attempt starts (RFC 3339), while one is planned.
 */
nextRetryAt: string | null, 
/**
 * When the feed was last followed (RFC 3339): what the queue shows is
 * the queue as of then while not live. None before the first connection.
 */
lastLiveAt: string | null, outboxPending: number, };

export type DecisionResult = { item: ApprovalItem | null, queued: boolean, message: string, 
/**
 * Set while the decision waits out its rule's undo window.
 */
undo: UndoWindow | null, };

export type UndoWindow = { outboxId: number, actionId: string, sendAt: string, };

export type DecisionRequest = { actionId: string, verdict: Verdict | null, reason?: string, 
/**
 * The action digest of the proposal the face displayed.
 */
shownDigest?: string, confirmation?: Confirmation, };

export type BatchItem = { actionId: string, shownDigest?: string, };

export type BatchOutcome = "applied" | "queued" | "decided_elsewhere" | "expired" | "needs_confirmation" | "failed";

export type BatchResult = { actionId: string, outcome: BatchOutcome, message: string, };

export type Confirmation = { "kind": "typed", "token": string } | { "kind": "held" };

export type Settings = { 
/**
 * A remote hub URL; none means "run the embedded hub".
 */
hub: string | null, operator: string | null, 
/**
 * A mesa server to manage (its admin token is in the keyring).
 */
mesaUrl: string | null, 
/**
 * Ask the desktop to play its sound with a new notification.
 */
sound: boolean, 
/**
 * Agents (principal ids or claimed names) whose holds make no
 * notification; they still show in the queue.
 */
mutedAgents: Array<string>, };

export type Source = "environment" | "settings" | "default";

export type SettingsView = { saved: Settings, 
/**
 * The hub in use: its URL, None for the embedded hub.
 */
hub: string | null, hubFrom: Source, operator: string, operatorFrom: Source, 
/**
 * The console starts at login, hidden in the tray (its XDG autostart
 * entry is there; see [`crate::autostart`]).
 */
autostart: boolean, };

export type TraceSummary = { actionId: string, type: string, agent: string, target: string | null, status: ActionStatus, receivedAt: string, ruleId: string | null, decidedBy: string | null, };

export type TraceList = { total: number, items: Array<TraceSummary>, 
/**
 * Pass as [`TraceQuery::cursor`] for the next page; null on the last
 * page (and from hubs that predate cursors).
 */
nextCursor: string | null, };

export type TraceEvent = { seq: number, at: string, kind: string, subject: string, data: JsonValue, prevHash: string, hash: string, };

export type TraceBundle = { format: string, actionId: string, exportedAt: string, 
/**
 * The last event's hash as the exporter saw it.
 */
head: string, events: Array<TraceEvent>, 
/**
 * Public keys the hub reported for the signers (informational: the
 * verifier decides which keys it trusts).
 */
operators: { [key in string]: string }, };

export type Problem = { 
/**
 * Position in the bundle (0-based).
 */
index: number, seq: number, kind: string, message: string, };

export type Report = { valid: boolean, events: number, signaturesChecked: number, problems: Array<Problem>, 
/**
 * Facts a reviewer should know that do not make the trace invalid
 * (e.g. a decision signed before content binding).
 */
warnings: Array<Problem>, };

export type TraceQuery = { agent?: string | null, type?: string | null, status?: string | null, 
/**
 * RFC 3339 bounds on when the hub received the action.
 */
from?: string | null, to?: string | null, 
/**
 * Free text over id, type, agent and target.
 */
q?: string | null, limit?: number | null, 
/**
 * Rows to skip (after `cursor` when both are given). Costs as many rows
 * as it skips: page with `cursor` instead.
 */
offset?: number | null, 
/**
 * Where a page starts: the previous page's [`TraceList::next_cursor`],
 * opaque. Absent: the newest first.
 */
cursor?: string | null, };

export type VerifiedTrace = { bundle: TraceBundle, report: Report, };

export type GrantOp = "grant" | "revoke";

export type GrantBody = { tag: string, grant_id: string, op: GrantOp, principal_id: string, capabilities: Array<string>, 
/**
 * Until when the grant holds (RFC 3339); none for no expiry. Unused by a revocation.
 */
expires_at: string | null, reason: string, operator_id: string, issued_at: string, };

export type GrantPreview = { body: GrantBody, 
/**
 * The exact canonical bytes the signature will cover, as text.
 */
signedText: string, };

export type CapabilityView = { capability: string, expiresAt: string | null, grantedBy: string, grantedAt: string, grantId: string, };

export type PrincipalView = { id: string, org: string, publicKey: string | null, hasToken: boolean, createdAt: string, createdBy: string, capabilities: Array<CapabilityView>, };

export type PrincipalCreated = { principal: PrincipalView, token: string | null, };

export type GrantRecord = { grantId: string, op: GrantOp, principalId: string, capabilities: Array<string>, expiresAt: string | null, reason: string, operatorId: string, issuedAt: string, receivedAt: string, };

export type MesaPrincipal = { id: string, org: string, public_key: string, capabilities: Array<string>, created_at: string, };

export type HelperStatus = "running" | "idle" | "blocked" | "sleeping" | "stopped" | "retired";

export type DesiredState = "running" | "stopped";

export type HelperView = { id: string, name: string, parentId: string, swarmId: string, task: string | null, status: HelperStatus, 
/**
 * What the hub wants: running, or stopped (a stop order, the cap).
 */
desiredState: DesiredState, progress: number | null, currentTask: string | null, createdAt: string, ttlExpiresAt: string, lastHeartbeat: string, 
/**
 * No heartbeat for half the heartbeat timeout.
 */
stale: boolean, stopDeadline: string | null, stopReason: string | null, stopBy: string | null, retiredAt: string | null, retireReason: string | null, };

export type Role = "admin" | "approver";

export type Via = "token" | "signature" | "status_token" | "dev_open";

export type Info = { operator: string, publicKey: string, hubUrl: string, 
/**
 * Set when the console runs the hub itself: where agents should point.
 */
embeddedAgentUrl: string | null, };

export type QueueSignal = { 
/**
 * Holds waiting for a decision: the hub's count while the queue is
 * still loading, then the queue's own.
 */
pending: number, 
/**
 * The queue's pages are still being read.
 */
loading: boolean, };

export type QueueShow = "pending" | "decided" | "all";

export type QueueSort = "age" | "deadline" | "agent";

export type QueueQuery = { show: QueueShow, sort: QueueSort, 
/**
 * Case-insensitive text in the id, type, agent, target or rule.
 */
text?: string, offset: number, limit: number, 
/**
 * The stamp of the window the view shows now: if the window asked
 * for is the same, its rows are not sent again (`unchanged`).
 */
unless?: string, };

export type QueuePage = { total: number, offset: number, items: Array<ApprovalItem>, 
/**
 * Pending holds on this page that are not this operator's to decide
 * (another group's, or already approved by them): shown greyed.
 */
notYours: Array<string>, 
/**
 * Names this window's rows as they are now (which items, in which
 * order, each at which change).
 */
stamp: string, 
/**
 * The window is the one the query's `unless` named: `items` and
 * `not_yours` are left empty, the view keeps what it shows.
 */
unchanged: boolean, };

export type ConsoleState = { 
/**
 * `starting`, `ready` or `failed`.
 */
phase: string, info: Info | null, error: ErrorBody | null, queue: QueueSignal | null, connection: Connection | null, };

export type Focus = { actionId: string | null, reject: boolean, };

export type DecisionError = { actionId: string, error: ErrorBody, };

/** Every helper state (HelperStatus::ALL). */
export const HELPER_STATUSES: readonly HelperStatus[] = ["running", "idle", "blocked", "sleeping", "stopped", "retired"];

/** The live states (HelperStatus::is_live): reported in heartbeats, shown as stale when quiet. */
export const LIVE_HELPER_STATUSES: readonly HelperStatus[] = ["running", "idle", "blocked", "sleeping"];
