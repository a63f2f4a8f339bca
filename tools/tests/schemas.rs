//! The tool set as a model sees it: names, descriptions and a snapshot of
//! every argument schema.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[test]
fn every_tool_has_a_valid_name_and_a_snapshot_schema() {
    let reg = tools::incident_tools();
    let names = reg.names();
    assert_eq!(
        names,
        vec![
            "create_issue",
            "get_issue",
            "update_issue",
            "search_issues",
            "list_issues",
            "attach_log",
            "list_log_files",
            "read_log",
            "grep_log",
            "record_why",
            "record_root_cause",
            "add_timeline_event",
            "get_timeline",
            "resolve_issue",
            "draft_rca",
            "draft_postmortem",
            "get_document",
            "update_document_section"
        ]
    );
    for spec in reg.specs() {
        assert!(tools::valid_name(&spec.name), "{}", spec.name);
        assert!(
            spec.description.len() > 30,
            "{} needs a real description",
            spec.name
        );
        assert_eq!(spec.parameters["type"], "object", "{}", spec.name);
        assert!(spec.parameters.get("$schema").is_none());
        assert!(
            spec.parameters.get("$defs").is_none(),
            "{}: sub-schemas are inlined",
            spec.name
        );
        insta::assert_json_snapshot!(spec.name.clone(), spec.parameters);
    }
    let openai = reg.openai_tools();
    assert_eq!(openai.len(), names.len());
    assert_eq!(openai[0]["type"], "function");
    assert_eq!(openai[0]["function"]["name"], "create_issue");
}

#[test]
fn names_are_checked() {
    for ok in ["a", "grep_log", "x-1", &"a".repeat(64)] {
        assert!(tools::valid_name(ok), "{ok}");
    }
    for bad in ["", "has space", "dot.name", "ünï", &"a".repeat(65)] {
        assert!(!tools::valid_name(bad), "{bad}");
    }
}

#[test]
fn only_the_log_readers_return_untrusted_content() {
    let reg = tools::incident_tools();
    let untrusted: Vec<&str> = reg
        .names()
        .into_iter()
        .filter(|n| reg.untrusted_output(n))
        .collect();
    assert_eq!(untrusted, vec!["read_log", "grep_log"]);
    for name in untrusted {
        assert_eq!(reg.risk(name), Some(tools::Risk::ReadOnly), "{name}");
    }
    assert!(!reg.untrusted_output("no_such_tool"));
}
