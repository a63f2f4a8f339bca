//! A realistic RCA document, as the drafting code would write it, and PDF
//! text extraction for the assertions.
#![allow(dead_code)]

use render::{escape_inline, escape_table_cell};

/// The root-cause sentence, asserted verbatim in both outputs.
pub const ROOT_CAUSE: &str = "The connection pool of payments-api was capped at 20 while the new retry policy opened up to 60 concurrent connections per pod.";
/// A filter typed into the timeline; its `|` must survive the table.
pub const PIPE_CELL: &str = "Ran grep -E 'timeout|refused' on api.log";
/// The last sentence of the document.
pub const LAST_SENTENCE: &str = "End of report: reviewed by the SRE team on 2024-05-14.";

pub fn rca_markdown() -> String {
    let mut md = String::new();
    md.push_str("# RCA: Checkout outage — payments-api connection exhaustion\n\n");
    md.push_str("## Summary\n\n");
    md.push_str("| Field | Value |\n|---|---|\n");
    for (field, value) in [
        ("Incident", "INC-2041"),
        ("Severity", "SEV-1"),
        ("Duration", "14:02–15:19 UTC (77 min)"),
        ("Owner", "Zoë Müller, café platform team"),
        ("Status", "Resolved → monitoring"),
    ] {
        md.push_str(&format!(
            "| {} | {} |\n",
            escape_table_cell(field),
            escape_table_cell(value)
        ));
    }
    md.push_str("\n## Root cause\n\n");
    md.push_str(ROOT_CAUSE);
    md.push_str(" Once the pool was exhausted, requests queued behind a 30-second acquire timeout, the load balancer's health checks failed, and pods were cycled out of rotation one after another — which concentrated traffic on the survivors and made the exhaustion worse. The retry policy had shipped two days earlier behind a feature flag that was enabled for all regions at 13:55 UTC; nothing in the rollout checklist compared the new concurrency with the pool limits. *Naïve* retries with no jitter and no budget turned a brief latency spike in the card processor into a self-sustaining overload.\n\n");

    md.push_str("## Timeline\n\n| Time (UTC) | Event | Source |\n|:--|:--|--:|\n");
    let events = [
        (
            "13:55",
            "Retry policy flag enabled for all regions",
            "deploy bot",
        ),
        (
            "14:02",
            "p99 latency of payments-api rises above 2 s",
            "Grafana",
        ),
        (
            "14:04",
            "First PagerDuty alert: checkout error rate > 5 %",
            "PagerDuty",
        ),
        (
            "14:06",
            "On-call engineer acknowledges and opens INC-2041",
            "Slack",
        ),
        ("14:09", PIPE_CELL, "shell"),
        (
            "14:12",
            "Hypothesis: card processor degraded; vendor status page is green",
            "vendor",
        ),
        (
            "14:18",
            "Pods restarted by liveness probe; errors continue",
            "Kubernetes",
        ),
        (
            "14:24",
            "Connection pool metrics show 20/20 in use on every pod",
            "Prometheus",
        ),
        (
            "14:31",
            "Scaled payments-api from 12 to 24 pods; no improvement",
            "kubectl",
        ),
        (
            "14:40",
            "Database reports 480 idle-in-transaction sessions",
            "PostgreSQL",
        ),
        (
            "14:47",
            "Correlated onset with flag change at 13:55",
            "audit log",
        ),
        ("14:52", "Retry policy flag disabled", "feature flags"),
        ("15:03", "Error rate below 1 %; queues draining", "Grafana"),
        ("15:12", "Pool usage back to 6/20 on average", "Prometheus"),
        (
            "15:19",
            "Incident resolved; monitoring for one hour",
            "Slack",
        ),
    ];
    for (time, event, source) in events {
        md.push_str(&format!(
            "| {} | {} | {} |\n",
            escape_table_cell(time),
            escape_table_cell(event),
            escape_table_cell(source)
        ));
    }

    md.push_str("\n## 5 Whys\n\n");
    md.push_str("1. **Why did checkout fail?** Requests to payments-api timed out.\n");
    md.push_str("   - Evidence: 504s at the load balancer, see `lb-access.log` lines 1200–1450.\n");
    md.push_str("2. **Why did requests time out?** The connection pool was exhausted.\n");
    md.push_str("   - Evidence: pool gauge at 20/20 on all pods.\n");
    md.push_str("     - Sub-point: the gauge had no alert attached.\n");
    md.push_str("3. **Why was the pool exhausted?** Retries tripled the number of concurrent connections.\n");
    md.push_str("4. **Why did retries multiply?** The policy had no jitter and no retry budget.\n");
    md.push_str("5. **Why was this not caught?** The rollout checklist does not compare concurrency with pool limits.\n\n");

    md.push_str("## Evidence\n\n```text\n2024-05-14T14:09:12Z ERROR payments-api pool: timeout acquiring connection after 30000ms (in use 20/20)\n2024-05-14T14:09:12Z WARN  retry: attempt 3/3 for POST /v1/charges → upstream refused\n```\n\n");

    md.push_str("## Action items\n\n- [x] Disable the retry flag\n- [ ] Add jitter and a retry budget (owner: ");
    md.push_str(&escape_inline("payments_team *core*"));
    md.push_str(")\n- [ ] Alert on pool saturation above 80 %\n\n");

    md.push_str("## Notes\n\n<script>alert('x')</script>\n\nInline <b>tags</b> stay text.\n\n");

    md.push_str("## Appendix\n\n");
    for i in 1..=40 {
        md.push_str(&format!(
            "Observation {i}: the retry storm pattern repeated across regions, with the résumé of each pod's logs showing the same acquire timeout and the same upstream refusal — a clear sign that the limit, not the host, was at fault.\n\n"
        ));
    }
    md.push_str(LAST_SENTENCE);
    md.push('\n');
    md
}

/// The PDF's text layer, with all runs of whitespace made single spaces
/// (lines wrap wherever the layout put them).
pub fn pdf_text(pdf: &[u8]) -> String {
    let text = pdf_extract::extract_text_from_mem(pdf).expect("extract text");
    normalize(&text)
}

pub fn normalize(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Number of pages, counted from the page objects.
pub fn page_count(pdf: &[u8]) -> usize {
    let doc = pdf_extract::Document::load_mem(pdf).expect("parse PDF");
    doc.get_pages().len()
}
