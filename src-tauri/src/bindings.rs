//! TypeScript declarations of every IPC payload, generated from the Rust
//! types with ts-rs into `ui/src/lib/bindings.ts`. The test fails when the
//! committed file drifts from the Rust types; regenerate with
//! `GATEHOUSE_BLESS=1 cargo test -p gatehouse-console bindings`.

#[cfg(test)]
mod tests {
    use gatehouse_operator::console::{Connection, DecisionResult};
    use gatehouse_operator::settings::Settings;
    use gatehouse_protocol::decision::{DecisionBody, SignedDecision, Verdict};
    use gatehouse_protocol::lodestar::{ApprovalResolution, ResolutionKind, ResolutionSignature};
    use gatehouse_protocol::wire::*;
    use gatehouse_protocol::ErrorBody;
    use ts_rs::{Config, TS};

    fn render() -> String {
        let cfg = Config::default();
        let decls = [
            Verdict::decl(&cfg),
            ErrorBody::decl(&cfg),
            ActorKind::decl(&cfg),
            Actor::decl(&cfg),
            ActionStatus::decl(&cfg),
            ActionDetail::decl(&cfg),
            HoldKind::decl(&cfg),
            HoldStatus::decl(&cfg),
            ConfirmMode::decl(&cfg),
            QuorumView::decl(&cfg),
            HoldView::decl(&cfg),
            ResolutionKind::decl(&cfg),
            ResolutionSignature::decl(&cfg),
            ApprovalResolution::decl(&cfg),
            DecisionBody::decl(&cfg),
            SignedDecision::decl(&cfg),
            DecisionView::decl(&cfg),
            ApprovalItem::decl(&cfg),
            gatehouse_operator::console::LinkState::decl(&cfg),
            Connection::decl(&cfg),
            DecisionResult::decl(&cfg),
            gatehouse_operator::console::UndoWindow::decl(&cfg),
            gatehouse_operator::console::DecisionRequest::decl(&cfg),
            gatehouse_operator::console::BatchItem::decl(&cfg),
            gatehouse_operator::decide::BatchOutcome::decl(&cfg),
            gatehouse_operator::console::BatchResult::decl(&cfg),
            gatehouse_operator::decide::Confirmation::decl(&cfg),
            Settings::decl(&cfg),
            gatehouse_operator::settings::Source::decl(&cfg),
            gatehouse_operator::settings::SettingsView::decl(&cfg),
            TraceSummary::decl(&cfg),
            TraceList::decl(&cfg),
            gatehouse_protocol::trace::TraceEvent::decl(&cfg),
            gatehouse_protocol::trace::TraceBundle::decl(&cfg),
            gatehouse_protocol::trace::Problem::decl(&cfg),
            gatehouse_protocol::trace::Report::decl(&cfg),
            TraceQuery::decl(&cfg),
            gatehouse_operator::console::VerifiedTrace::decl(&cfg),
            gatehouse_protocol::grant::GrantOp::decl(&cfg),
            gatehouse_protocol::grant::GrantBody::decl(&cfg),
            gatehouse_operator::capabilities::GrantPreview::decl(&cfg),
            CapabilityView::decl(&cfg),
            PrincipalView::decl(&cfg),
            PrincipalCreated::decl(&cfg),
            GrantRecord::decl(&cfg),
            gatehouse_operator::mesa::MesaPrincipal::decl(&cfg),
            HelperStatus::decl(&cfg),
            DesiredState::decl(&cfg),
            HelperView::decl(&cfg),
            Role::decl(&cfg),
            Via::decl(&cfg),
            crate::startup::Info::decl(&cfg),
            gatehouse_operator::console::QueueSignal::decl(&cfg),
            gatehouse_operator::queue::QueueShow::decl(&cfg),
            gatehouse_operator::queue::QueueSort::decl(&cfg),
            gatehouse_operator::queue::QueueQuery::decl(&cfg),
            gatehouse_operator::queue::QueuePage::decl(&cfg),
            crate::commands::ConsoleState::decl(&cfg),
            crate::notify::Focus::decl(&cfg),
            crate::notify::DecisionError::decl(&cfg),
        ];
        let mut out = String::from(
            "// Generated from the Rust types by ts-rs (src-tauri/src/bindings.rs). Do not edit:\n// GATEHOUSE_BLESS=1 cargo test -p gatehouse-console bindings\n\nexport type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]?: JsonValue } | null;\n",
        );
        for d in decls {
            out.push('\n');
            out.push_str("export ");
            out.push_str(d.trim());
            out.push('\n');
        }
        // The rule's value lists, so the UI never spells states out itself.
        let names = |v: &[HelperStatus]| v.iter().map(|s| format!("{:?}", s.as_str())).collect::<Vec<_>>().join(", ");
        out.push_str(&format!(
            "\n/** Every helper state (HelperStatus::ALL). */\nexport const HELPER_STATUSES: readonly HelperStatus[] = [{}];\n",
            names(&HelperStatus::ALL)
        ));
        out.push_str(&format!(
            "\n/** The live states (HelperStatus::is_live): reported in heartbeats, shown as stale when quiet. */\nexport const LIVE_HELPER_STATUSES: readonly HelperStatus[] = [{}];\n",
            names(&HelperStatus::REPORTABLE)
        ));
        out
    }

    #[test]
    fn bindings_match_the_rust_types() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/bindings.ts");
        let fresh = render();
        if std::env::var_os("GATEHOUSE_BLESS").is_some() {
            std::fs::write(&path, &fresh).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "ui/src/lib/bindings.ts drifted from the Rust types; regenerate with GATEHOUSE_BLESS=1 cargo test -p gatehouse-console bindings"
        );
    }
}
