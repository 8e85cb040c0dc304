//! Edits of real-world-shaped kustomization files change only the asked
//! values: checked line by line against the original, semantically with an
//! independent YAML reader (yaml_serde), and for idempotence.

use proptest::prelude::*;
use sandbox_kustomize::{
    Edit, ImageEdit, Kustomization, KustomizeError, LabelEdit, LiteralEdit, ReplacementSourceEdit,
    edit,
};
use serde_json::{Value, json};
use similar::{ChangeTag, TextDiff};

const BLOCK: &str = include_str!("fixtures/block.yaml");
const FLOW: &str = include_str!("fixtures/flow.yaml");
const MULTIDOC: &str = include_str!("fixtures/multidoc.yaml");
const MINIMAL: &str = include_str!("fixtures/minimal.yaml");

/// Lines removed and lines added, in order.
fn changes(old: &str, new: &str) -> (Vec<String>, Vec<String>) {
    let (mut removed, mut added) = (Vec::new(), Vec::new());
    for c in TextDiff::from_lines(old, new).iter_all_changes() {
        let line = c.value().trim_end_matches(['\n', '\r']).to_string();
        match c.tag() {
            ChangeTag::Delete => removed.push(line),
            ChangeTag::Insert => added.push(line),
            ChangeTag::Equal => {}
        }
    }
    (removed, added)
}

/// Apply `edits`, check the exact changed lines, then that a second run
/// changes nothing and that the result is still YAML.
fn check(text: &str, edits: &[Edit], removed: &[&str], added: &[&str]) -> String {
    let out = edit(text, edits).unwrap();
    let (r, a) = changes(text, &out);
    assert_eq!(
        (r, a),
        (strings(removed), strings(added)),
        "diff:\n{}",
        diff(text, &out)
    );
    assert_eq!(
        edit(&out, edits).unwrap(),
        out,
        "a second run changed the file"
    );
    semantic(&out);
    out
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn diff(a: &str, b: &str) -> String {
    sandbox_kustomize::unified_diff("kustomization.yaml", a, b)
}

/// The kustomization as an independent reader sees it (aliases resolved).
fn semantic(text: &str) -> Value {
    use serde::Deserialize;
    for doc in yaml_serde::Deserializer::from_str(text) {
        let v = Value::deserialize(doc).expect("output is valid YAML");
        if v.get("kind").is_some() {
            return v;
        }
    }
    panic!("no kustomization document in:\n{text}");
}

fn image(s: &str) -> Edit {
    Edit::Image(ImageEdit::parse(s).unwrap())
}

#[test]
fn namespace_and_suffix_keep_comments_and_quotes() {
    check(
        BLOCK,
        &[
            Edit::Namespace("apps-sbx-pr-42".into()),
            Edit::NameSuffix("-pr-42".into()),
        ],
        &[
            "namespace: apps-placeholder   # replaced per sandbox",
            "nameSuffix: \"-sbx\"",
        ],
        &[
            "namespace: apps-sbx-pr-42   # replaced per sandbox",
            "nameSuffix: \"-pr-42\"",
        ],
    );
}

#[test]
fn an_anchored_tag_keeps_its_anchor_and_its_aliases_follow() {
    let out = check(
        BLOCK,
        &[image("ghcr.io/acme/shop:1.11")],
        &["    newTag: &shop_tag \"1.10\""],
        &["    newTag: &shop_tag \"1.11\""],
    );
    let v = semantic(&out);
    assert_eq!(
        v["images"][2]["newTag"], "1.11",
        "the alias follows the anchor"
    );
}

#[test]
fn setting_an_aliased_tag_replaces_only_that_alias() {
    check(
        BLOCK,
        &[image("ghcr.io/acme/cron:2024.07.1")],
        &["    newTag: *shop_tag   # released with the shop"],
        &["    newTag: 2024.07.1   # released with the shop"],
    );
}

#[test]
fn a_tag_replaces_a_pinned_digest_like_kustomize_edit_set_image() {
    check(
        BLOCK,
        &[image("ghcr.io/acme/worker:v7.4.0")],
        &[
            "    newTag: 'v7.3.0'    # pinned for QA",
            "    digest: sha256:1111111111111111111111111111111111111111111111111111111111111111",
        ],
        &["    newTag: 'v7.4.0'    # pinned for QA"],
    );
    let d = format!("sha256:{}", "3".repeat(64));
    check(
        FLOW,
        &[image(&format!("ghcr.io/acme/worker@{d}"))],
        &[
            "- {name: ghcr.io/acme/worker, newTag: v7.2.0, digest: \"sha256:2222222222222222222222222222222222222222222222222222222222222222\"}",
        ],
        &[&format!("- {{name: ghcr.io/acme/worker, digest: \"{d}\"}}")],
    );
}

#[test]
fn new_name_tag_and_digest_together() {
    let d = format!("sha256:{}", "4".repeat(64));
    check(
        FLOW,
        &[image(&format!("redis=mirror.gcr.io/library/redis:7.4@{d}"))],
        &["  newTag: 7.2.4 # upstream"],
        &[
            "  newName: mirror.gcr.io/library/redis",
            // 7.4 unquoted would read as a number.
            "  newTag: '7.4' # upstream",
            &format!("  digest: {d}"),
        ],
    );
}

#[test]
fn an_absent_image_is_added_in_the_lists_style() {
    check(
        BLOCK,
        &[image("postgres:16")],
        &[],
        &["  - name: postgres", "    newTag: '16'"],
    );
    check(
        FLOW,
        &[image("postgres:16.4")],
        &[],
        &["- name: postgres", "  newTag: '16.4'"],
    );
    check(
        MINIMAL,
        &[image("ghcr.io/acme/shop:2.0.0")],
        &[],
        &["images:", "- name: ghcr.io/acme/shop", "  newTag: 2.0.0"],
    );
}

#[test]
fn flow_mappings_stay_flow_and_keep_quotes() {
    check(
        FLOW,
        &[image("ghcr.io/acme/shop:1.9.1")],
        &["- {name: ghcr.io/acme/shop, newTag: '1.9.0'}"],
        &["- {name: ghcr.io/acme/shop, newTag: '1.9.1'}"],
    );
}

#[test]
fn absent_keys_go_where_kustomize_puts_them() {
    check(
        MINIMAL,
        &[
            Edit::Namespace("apps-sbx-pr-1".into()),
            Edit::NameSuffix("-sbx".into()),
        ],
        &[],
        &["namespace: apps-sbx-pr-1", "nameSuffix: '-sbx'"],
    );
    let out = edit(MINIMAL, &[Edit::Namespace("apps-sbx-pr-1".into())]).unwrap();
    assert!(out.starts_with("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: apps-sbx-pr-1\n"), "{out}");
}

#[test]
fn labels_go_to_the_entry_or_map_that_has_the_key() {
    check(
        BLOCK,
        &[
            Edit::Label(LabelEdit::parse("team=payments").unwrap()),
            Edit::Label(LabelEdit::parse("app.kubernetes.io/instance=sbx-pr-42").unwrap()),
        ],
        &["      team: checkout"],
        &[
            "      team: payments",
            "      app.kubernetes.io/instance: sbx-pr-42",
        ],
    );
    // commonLabels keeps a key it has; a new key does not go into it (it
    // would change the immutable selectors of running Deployments).
    check(
        FLOW,
        &[
            Edit::Label(LabelEdit::parse("env=sbx-pr-42").unwrap()),
            Edit::Label(LabelEdit::parse("pr=42").unwrap()),
        ],
        &["commonLabels: {app: shop, env: 'integration'}"],
        &[
            "labels:",
            "- pairs:",
            "    pr: '42'",
            "commonLabels: {app: shop, env: 'sbx-pr-42'}",
        ],
    );
}

#[test]
fn generator_literals_in_block_and_flow_lists() {
    check(
        BLOCK,
        &[
            Edit::Literal(LiteralEdit::parse("shop-config/LOG_LEVEL=debug").unwrap()),
            Edit::Literal(LiteralEdit::parse("shop-config/FEATURE_FLAGS=a: b # c").unwrap()),
            Edit::Literal(LiteralEdit::parse("shop-config/NEW_KEY=1").unwrap()),
            Edit::Literal(LiteralEdit::parse("shop-secrets/API_TOKEN=s3cr3t-value").unwrap()),
        ],
        &[
            "      - LOG_LEVEL=info   # debug in sandboxes?",
            "      - \"FEATURE_FLAGS=checkout-v2,search\"",
            "      - API_TOKEN=placeholder",
        ],
        &[
            "      - LOG_LEVEL=debug   # debug in sandboxes?",
            "      - \"FEATURE_FLAGS=a: b # c\"",
            "      - NEW_KEY=1",
            "      - API_TOKEN=s3cr3t-value",
        ],
    );
    check(
        FLOW,
        &[
            Edit::Literal(LiteralEdit::parse("shop-config/CACHE_TTL=5").unwrap()),
            Edit::Literal(LiteralEdit::parse("shop-config/MODE=sandbox").unwrap()),
        ],
        &["  literals: [LOG_LEVEL=warn, 'CACHE_TTL=60']"],
        &["  literals: [LOG_LEVEL=warn, 'CACHE_TTL=5', MODE=sandbox]"],
    );
}

#[test]
fn a_literal_for_a_missing_generator_is_refused() {
    let e = edit(
        BLOCK,
        &[Edit::Literal(LiteralEdit::parse("nope/K=v").unwrap())],
    )
    .unwrap_err();
    assert!(matches!(e, KustomizeError::NoSuchGenerator(_)), "{e}");
}

#[test]
fn replacement_source_fields() {
    check(
        BLOCK,
        &[Edit::ReplacementSource(
            ReplacementSourceEdit::parse("shop-config/fieldPath=data.SANDBOX_URL").unwrap(),
        )],
        &["      fieldPath: data.PUBLIC_URL"],
        &["      fieldPath: data.SANDBOX_URL"],
    );
    let e = edit(
        BLOCK,
        &[Edit::ReplacementSource(
            ReplacementSourceEdit::parse("other/name=x").unwrap(),
        )],
    )
    .unwrap_err();
    assert!(
        matches!(e, KustomizeError::NoSuchReplacementSource(_)),
        "{e}"
    );
}

#[test]
fn documents_with_markers_keep_them() {
    let out = check(
        MULTIDOC,
        &[
            Edit::Namespace("apps-sbx-pr-9".into()),
            image("ghcr.io/acme/shop:1.0.1"),
        ],
        &["    newTag: \"1.0.0\""],
        &["namespace: apps-sbx-pr-9", "    newTag: \"1.0.1\""],
    );
    assert!(out.starts_with("# yaml-language-server"), "{out}");
    assert!(out.ends_with("...\n"), "{out}");
}

#[test]
fn crlf_files_stay_crlf() {
    let crlf = BLOCK.replace('\n', "\r\n");
    let out = edit(
        &crlf,
        &[
            Edit::Namespace("apps-sbx-pr-42".into()),
            image("ghcr.io/acme/worker:v8"),
            image("postgres:16"),
            Edit::Label(LabelEdit::parse("pr=42").unwrap()),
        ],
    )
    .unwrap();
    assert!(
        !out.replace("\r\n", "").contains('\n'),
        "a bare LF crept in:\n{out:?}"
    );
    assert_eq!(
        changes(BLOCK, &out.replace("\r\n", "\n")),
        changes(
            BLOCK,
            &edit(
                BLOCK,
                &[
                    Edit::Namespace("apps-sbx-pr-42".into()),
                    image("ghcr.io/acme/worker:v8"),
                    image("postgres:16"),
                    Edit::Label(LabelEdit::parse("pr=42").unwrap()),
                ],
            )
            .unwrap()
        )
    );
}

#[test]
fn images_are_read_with_aliases_resolved() {
    let k = Kustomization::parse(BLOCK).unwrap();
    let images = k.images().unwrap();
    let tags: Vec<_> = images
        .iter()
        .map(|i| (i.name.as_str(), i.new_tag.as_deref()))
        .collect();
    assert_eq!(
        tags,
        [
            ("ghcr.io/acme/shop", Some("1.10")),
            ("ghcr.io/acme/worker", Some("v7.3.0")),
            ("ghcr.io/acme/cron", None),
        ]
    );
    assert_eq!(k.namespace().as_deref(), Some("apps-placeholder"));
}

#[test]
fn broken_files_are_errors_not_panics() {
    for bad in [
        "images: [",
        "- a\n- b\n",
        "images: {a: 1}\n",
        "images:\n  - just-a-string\n",
    ] {
        let r = Kustomization::parse(bad)
            .and_then(|mut k| k.apply(&image("shop:1")).map(|()| k.to_string()));
        assert!(r.is_err(), "{bad:?} gave {r:?}");
    }
}

/// The random edits of the property test and how they change the model.
#[derive(Debug, Clone)]
enum Change {
    Namespace(String),
    Tag(usize, String),
    Label(String),
}

fn dns_label() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,20}[a-z0-9]"
}

fn tag() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9][a-z0-9._-]{0,15}",
        "[0-9]{1,2}\\.[0-9]{1,2}",
        Just("true".to_string()),
        Just("1.10".to_string()),
    ]
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        dns_label().prop_map(Change::Namespace),
        (0usize..2, tag()).prop_map(|(i, t)| Change::Tag(i, t)),
        dns_label().prop_map(Change::Label),
    ]
}

/// Images of each fixture that no alias points at.
fn fixture(i: usize) -> (&'static str, &'static [&'static str]) {
    match i {
        0 => (BLOCK, &["ghcr.io/acme/worker", "ghcr.io/acme/cron"]),
        1 => (FLOW, &["ghcr.io/acme/shop", "redis"]),
        _ => (MULTIDOC, &["ghcr.io/acme/shop", "ghcr.io/acme/shop"]),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Any sequence of edits: the result reads as the original with exactly
    /// those values changed, every changed line is one of an edited key,
    /// and running the same edits again changes nothing.
    #[test]
    fn only_the_asked_values_change(f in 0usize..3, crlf: bool, changes_ in proptest::collection::vec(change(), 1..6)) {
        let (base, images) = fixture(f);
        let text = if crlf { base.replace('\n', "\r\n") } else { base.to_string() };
        let mut model = semantic(base);
        let mut edits = Vec::new();
        for c in &changes_ {
            match c {
                Change::Namespace(ns) => {
                    edits.push(Edit::Namespace(ns.clone()));
                    model["namespace"] = json!(ns);
                }
                Change::Tag(i, t) => {
                    let name = images[*i];
                    edits.push(Edit::Image(ImageEdit::parse(&format!("{name}:{t}")).unwrap()));
                    let list = model["images"].as_array_mut().unwrap();
                    let entry = list.iter_mut().find(|e| e["name"] == name).unwrap();
                    let entry = entry.as_object_mut().unwrap();
                    entry.insert("newTag".into(), json!(t));
                    entry.remove("digest");
                }
                Change::Label(v) => {
                    edits.push(Edit::Label(LabelEdit::parse(&format!("sandbox={v}")).unwrap()));
                }
            }
        }
        let out = edit(&text, &edits).unwrap();
        prop_assert_eq!(edit(&out, &edits).unwrap(), out.clone(), "not idempotent");
        if crlf {
            prop_assert!(!out.replace("\r\n", "").contains('\n'), "bare LF in CRLF file");
        }
        let lf = out.replace("\r\n", "\n");
        let mut got = semantic(&lf);
        // Labels are checked apart: where they go depends on the file.
        if let Some(Change::Label(v)) = changes_.iter().rev().find(|c| matches!(c, Change::Label(_))) {
            let text = lf.clone();
            prop_assert!(text.contains(&format!("sandbox: {v}")) || text.contains(&format!("sandbox: '{v}'")), "label missing:\n{}", text);
            strip_label(&mut got);
        }
        prop_assert_eq!(&got, &model, "diff:\n{}", diff(base, &lf));
        let (removed, added) = changes(base, &lf);
        for line in removed.iter().chain(&added) {
            let t = line.trim_start().trim_start_matches("- ");
            prop_assert!(
                ["namespace:", "newTag:", "digest:", "{name:", "sandbox:", "labels:", "pairs:"].iter().any(|k| t.starts_with(k)),
                "unexpected changed line {:?} in\n{}", line, diff(base, &lf)
            );
        }
    }
}

/// Remove the `sandbox` label the property test adds, wherever it went.
fn strip_label(v: &mut Value) {
    let Some(labels) = v.get_mut("labels").and_then(Value::as_array_mut) else {
        return;
    };
    for entry in labels.iter_mut() {
        if let Some(pairs) = entry.get_mut("pairs").and_then(Value::as_object_mut) {
            pairs.remove("sandbox");
        }
    }
    labels.retain(|e| {
        e.get("pairs")
            .and_then(Value::as_object)
            .is_none_or(|p| !p.is_empty())
            || e.as_object().is_some_and(|o| o.len() > 1)
    });
    if labels.is_empty() {
        v.as_object_mut().unwrap().remove("labels");
    }
}
