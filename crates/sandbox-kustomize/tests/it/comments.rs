//! Where a new top-level key goes among comments, on hand-written
//! kustomization files.

use sandbox_kustomize::{Edit, ImageEdit, Kustomization};
use serde_json::Value;

fn add_image(text: &str) -> String {
    let mut k = Kustomization::parse(text).unwrap();
    k.apply(&Edit::Image(ImageEdit::parse("shop:1.2").unwrap()))
        .unwrap();
    k.to_string()
}

fn yaml(text: &str) -> Value {
    yaml_serde::from_str(text).unwrap()
}

/// Regression: a new `images:` went between `components:` and that list's
/// commented-out entries, so uncommenting them later put them under
/// `images:`. Issue 12, "Real repositories".
#[test]
fn a_new_key_goes_after_the_commented_out_entries_of_the_list_before_it() {
    let text = "\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../../base
components:
- ../../components/tracing
# - ../../components/debug
# - ../../components/profiling

replicas:
- name: shop
  count: 1
";
    let edited = add_image(text);
    assert_eq!(
        edited,
        "\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../../base
components:
- ../../components/tracing
# - ../../components/debug
# - ../../components/profiling
images:
- name: shop
  newTag: '1.2'

replicas:
- name: shop
  count: 1
"
    );
    // Uncommenting the entries later keeps them components.
    let uncommented = edited.replace("# - ", "- ");
    let value = yaml(&uncommented);
    assert_eq!(value["components"].as_array().unwrap().len(), 3);
    assert_eq!(value["images"].as_array().unwrap().len(), 1);
}

#[test]
fn indented_lists_and_a_file_ending_in_comments() {
    let text = "resources:\n  - ../base\ncomponents:\n  - ../components/a\n  # - ../components/b";
    let edited = add_image(text);
    let value = yaml(&edited);
    assert_eq!(value["images"][0]["name"], "shop");
    let b = edited.find("# - ../components/b").unwrap();
    let images = edited.find("images:").unwrap();
    assert!(b < images, "{edited}");
    assert_eq!(
        yaml(&edited.replace("# - ", "- "))["components"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "{edited}"
    );
}

#[test]
fn a_comment_directly_above_the_next_key_stays_with_that_key() {
    let text = "\
resources:
- ../base
# Only one replica in a sandbox.
replicas:
- name: shop
  count: 1
";
    let edited = add_image(text);
    assert!(
        edited.contains("# Only one replica in a sandbox.\nreplicas:"),
        "{edited}"
    );
    assert_eq!(yaml(&edited)["images"][0]["newTag"], "1.2");
}

#[test]
fn windows_line_endings_are_kept_when_moving() {
    let text =
        "components:\r\n- ../a\r\n# - ../b\r\n\r\nreplicas:\r\n- name: shop\r\n  count: 1\r\n";
    let edited = add_image(text);
    assert!(!edited.replace("\r\n", "").contains('\n'), "{edited:?}");
    let b = edited.find("# - ../b").unwrap();
    assert!(b < edited.find("images:").unwrap(), "{edited:?}");
}
