//! Rendering a kustomization from a tera template kept in the repository,
//! for overlays whose shape differs per sandbox more than edits can say.

use crate::error::KustomizeError;
use crate::kustomization::Image;
use serde::Serialize;
use std::collections::BTreeMap;

/// What a template sees. Every field is also documented in the crate
/// README, since template authors read that, not this.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TemplateContext {
    /// The sandbox's name, e.g. `sbx-pr-42`.
    pub environment: String,
    /// Its namespace, e.g. `apps-sbx-pr-42`.
    pub namespace: String,
    /// The environment's branch.
    pub branch: String,
    /// The overlay being written, relative to the repository root.
    pub overlay_path: String,
    /// The `images` of the `images_from` overlay, in its order.
    pub images: Vec<Image>,
    /// The same, by image name: `image["ghcr.io/acme/shop"].newTag`.
    pub image: BTreeMap<String, Image>,
    /// `--label` pairs.
    pub labels: BTreeMap<String, String>,
    /// `--name-suffix`, when given.
    pub name_suffix: Option<String>,
}

impl TemplateContext {
    /// Fill `images` and the `image` map from one list.
    pub fn with_images(mut self, images: Vec<Image>) -> Self {
        self.image = images.iter().map(|i| (i.name.clone(), i.clone())).collect();
        self.images = images;
        self
    }
}

/// Render the template `source` (named `name` in errors). Nothing is
/// escaped: the output is YAML, not HTML.
pub fn render_template(
    name: &str,
    source: &str,
    context: &TemplateContext,
) -> Result<String, KustomizeError> {
    let err = |source| KustomizeError::Template {
        name: name.to_string(),
        source,
    };
    let mut tera = tera::Tera::default();
    tera.autoescape_on(Vec::new());
    tera.add_raw_template(name, source).map_err(err)?;
    let ctx = tera::Context::from_serialize(context).map_err(err)?;
    tera.render(name, &ctx).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_names_and_images() {
        let ctx = TemplateContext {
            environment: "sbx-pr-3".into(),
            namespace: "apps-sbx-pr-3".into(),
            ..TemplateContext::default()
        }
        .with_images(vec![Image {
            name: "ghcr.io/acme/shop".into(),
            new_name: None,
            new_tag: Some("1.4".into()),
            digest: None,
        }]);
        let out = render_template(
            "k.yaml.tera",
            "namespace: {{ namespace }}\nimages:\n{% for i in images %}  - name: {{ i.name }}\n    newTag: \"{{ i.newTag }}\"\n{% endfor %}tag: {{ image[\"ghcr.io/acme/shop\"].newTag }}\n",
            &ctx,
        )
        .unwrap();
        assert_eq!(
            out,
            "namespace: apps-sbx-pr-3\nimages:\n  - name: ghcr.io/acme/shop\n    newTag: \"1.4\"\ntag: 1.4\n"
        );
    }

    #[test]
    fn an_unknown_variable_is_an_error_naming_the_template() {
        let e =
            render_template("t.tera", "x: {{ nope }}", &TemplateContext::default()).unwrap_err();
        assert!(e.to_string().contains("t.tera"), "{e}");
    }
}
