//! A parsed kustomization file that keeps every byte it was not asked to
//! change.

use crate::edit::{Edit, ImageEdit, LabelEdit, LiteralEdit, ReplacementSourceEdit};
use crate::error::KustomizeError;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;
use yaml_edit::{
    Document, Mapping, MappingBuilder, ScalarStyle, ScalarValue, Sequence, SequenceBuilder,
    YamlFile, YamlNode,
};

/// The file names Kustomize looks for in a directory, in its order.
pub const KUSTOMIZATION_FILE_NAMES: &[&str] =
    &["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Where a key missing from the file is inserted: the order of
/// `kustomize edit fix`, so a new `namespace` lands near the top rather
/// than after a long `patches` list.
const FIELD_ORDER: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "namespace",
    "namePrefix",
    "nameSuffix",
    "labels",
    "commonLabels",
    "commonAnnotations",
    "resources",
    "components",
    "crds",
    "patches",
    "patchesStrategicMerge",
    "patchesJson6902",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
    "images",
    "replicas",
    "replacements",
    "vars",
];

/// The order of an `images` entry's fields.
const IMAGE_FIELD_ORDER: &[&str] = &["name", "newName", "newTag", "digest"];

/// One entry of a kustomization's `images`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Image {
    /// The image name the entry matches.
    pub name: String,
    /// `newName`.
    #[serde(rename = "newName", skip_serializing_if = "Option::is_none")]
    pub new_name: Option<String>,
    /// `newTag`.
    #[serde(rename = "newTag", skip_serializing_if = "Option::is_none")]
    pub new_tag: Option<String>,
    /// `digest`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

impl Image {
    /// The edit that gives another overlay this entry's image: its new name
    /// (when it has one), tag and digest.
    pub fn to_edit(&self) -> Option<ImageEdit> {
        let edit = ImageEdit {
            name: self.name.clone(),
            new_name: self.new_name.clone(),
            new_tag: self.new_tag.clone(),
            digest: self.digest.clone(),
        };
        (edit.new_name.is_some() || edit.new_tag.is_some() || edit.digest.is_some()).then_some(edit)
    }
}

/// A kustomization file open for editing. Edits change the syntax tree in
/// place; [`fmt::Display`] writes the whole file back.
#[derive(Debug)]
pub struct Kustomization {
    file: YamlFile,
    root: Mapping,
    /// Whether the file writes block sequences indented under their key
    /// (`key:\n  - a`) rather than level with it (`key:\n- a`); lists the
    /// file does not have yet are written the same way.
    indented_sequences: bool,
}

impl Kustomization {
    /// Parse the text of a kustomization file. In a stream of several
    /// documents the one of `kind: Kustomization` (or `Component`) is
    /// edited, else the first mapping.
    pub fn parse(text: &str) -> Result<Self, KustomizeError> {
        let file = YamlFile::from_str(text).map_err(|e| KustomizeError::Syntax(e.to_string()))?;
        let docs: Vec<Document> = file.documents().collect();
        let is_kustomization = |d: &&Document| {
            d.get("kind")
                .and_then(|k| k.as_scalar().map(|s| s.as_string()))
                .is_some_and(|k| k == "Kustomization" || k == "Component")
        };
        let doc = docs
            .iter()
            .find(is_kustomization)
            .or_else(|| docs.iter().find(|d| d.as_mapping().is_some()))
            .ok_or(KustomizeError::NotAMapping)?;
        let root = doc.as_mapping().ok_or(KustomizeError::NotAMapping)?;
        Ok(Kustomization {
            file,
            root,
            indented_sequences: indented_sequences(text),
        })
    }

    /// The top-level `namespace`.
    pub fn namespace(&self) -> Option<String> {
        scalar_at(&self.root, "namespace")
    }

    /// The `images` entries (those with a `name`).
    pub fn images(&self) -> Result<Vec<Image>, KustomizeError> {
        let Some(seq) = sequence_at(&self.root, "images")? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (i, item) in seq.values().enumerate() {
            let m = item.as_mapping().ok_or_else(|| KustomizeError::Shape {
                key: format!("images[{i}]"),
                expected: "a mapping",
            })?;
            let Some(name) = scalar_at(m, "name") else {
                continue;
            };
            out.push(Image {
                name,
                new_name: scalar_at(m, "newName"),
                new_tag: scalar_at(m, "newTag"),
                digest: scalar_at(m, "digest"),
            });
        }
        Ok(out)
    }

    /// The names of the `secretGenerator` entries: literals set there are
    /// secrets, masked in what a task prints.
    pub fn secret_generators(&self) -> Vec<String> {
        let Ok(Some(seq)) = sequence_at(&self.root, "secretGenerator") else {
            return Vec::new();
        };
        seq.values()
            .filter_map(|item| item.as_mapping().and_then(|m| scalar_at(m, "name")))
            .collect()
    }

    /// Apply one edit.
    pub fn apply(&mut self, edit: &Edit) -> Result<(), KustomizeError> {
        let before = self.to_string();
        self.apply_in_tree(edit)?;
        self.keep_trailing_comments(&before)
    }

    /// A top-level key this edit added goes after the comment lines that
    /// trail the key before it, not between that key and its comments: a
    /// list's commented-out entries (`# - ../components/b`) stay with the
    /// list, so uncommenting them later does not put them under the new
    /// key. yaml-edit inserts a new entry right after the previous entry's
    /// last node, which comes before those comments.
    fn keep_trailing_comments(&mut self, before: &str) -> Result<(), KustomizeError> {
        let after = self.to_string();
        let Some(moved) = move_past_trailing_comments(before, &after) else {
            return Ok(());
        };
        *self = Kustomization::parse(&moved)?;
        Ok(())
    }

    fn apply_in_tree(&mut self, edit: &Edit) -> Result<(), KustomizeError> {
        match edit {
            Edit::Namespace(ns) => {
                set_scalar(&self.root, "namespace", ns, Some(FIELD_ORDER));
                Ok(())
            }
            Edit::NameSuffix(s) => {
                set_scalar(&self.root, "nameSuffix", s, Some(FIELD_ORDER));
                Ok(())
            }
            Edit::Label(l) => self.set_label(l),
            Edit::Image(i) => self.set_image(i),
            Edit::Literal(l) => self.set_literal(l),
            Edit::ReplacementSource(r) => self.set_replacement_source(r),
        }
    }

    /// Set an `images` entry, adding it (and `images`) when absent.
    fn set_image(&self, edit: &ImageEdit) -> Result<(), KustomizeError> {
        let entry = match sequence_at(&self.root, "images")? {
            Some(seq) => find_by_name(&seq, "images", &edit.name)?.map(|(_, m)| m),
            None => None,
        };
        let Some(entry) = entry else {
            let mut b = MappingBuilder::new().pair("name", ScalarValue::string(&edit.name));
            for (key, value) in [
                ("newName", &edit.new_name),
                ("newTag", &edit.new_tag),
                ("digest", &edit.digest),
            ] {
                if let Some(v) = value {
                    b = b.pair(key, ScalarValue::string(v));
                }
            }
            return self.push_item("images", &b.build_document());
        };
        if let Some(n) = &edit.new_name {
            set_scalar(&entry, "newName", n, Some(IMAGE_FIELD_ORDER));
        }
        // A tag or digest replaces the pair, as `kustomize edit set image` does.
        if edit.new_tag.is_some() || edit.digest.is_some() {
            for (key, value) in [("newTag", &edit.new_tag), ("digest", &edit.digest)] {
                match value {
                    Some(v) => set_scalar(&entry, key, v, Some(IMAGE_FIELD_ORDER)),
                    None => {
                        entry.remove(key);
                    }
                }
            }
        }
        Ok(())
    }

    /// Set a label where Kustomize users expect it: in the `labels` entry or
    /// `commonLabels` that already has the key; otherwise in the first
    /// `labels` entry that does not select on its labels. A new key never
    /// goes into `commonLabels` nor a selecting entry, since it would also
    /// change the Deployments' immutable selectors.
    fn set_label(&self, edit: &LabelEdit) -> Result<(), KustomizeError> {
        let labels = sequence_at(&self.root, "labels")?;
        let mut pairs_of = Vec::new();
        if let Some(seq) = &labels {
            for (i, item) in seq.values().enumerate() {
                let m = item.as_mapping().ok_or_else(|| KustomizeError::Shape {
                    key: format!("labels[{i}]"),
                    expected: "a mapping",
                })?;
                let selects = scalar_at(m, "includeSelectors").is_some_and(|v| v == "true");
                pairs_of.push((m.clone(), selects));
            }
        }
        for (m, _) in &pairs_of {
            if let Some(pairs) = mapping_at(m, "pairs", "labels[].pairs")?
                && pairs.contains_key(edit.key.as_str())
            {
                set_scalar(&pairs, &edit.key, &edit.value, None);
                return Ok(());
            }
        }
        if let Some(common) = mapping_at(&self.root, "commonLabels", "commonLabels")?
            && common.contains_key(edit.key.as_str())
        {
            set_scalar(&common, &edit.key, &edit.value, None);
            return Ok(());
        }
        for (m, selects) in &pairs_of {
            if *selects {
                continue;
            }
            match mapping_at(m, "pairs", "labels[].pairs")? {
                Some(pairs) => set_scalar(&pairs, &edit.key, &edit.value, None),
                None => m.set(
                    "pairs",
                    MappingBuilder::new()
                        .pair(edit.key.as_str(), ScalarValue::string(&edit.value))
                        .build_document()
                        .as_mapping()
                        .ok_or(KustomizeError::NotAMapping)?,
                ),
            }
            return Ok(());
        }
        let entry = MappingBuilder::new()
            .mapping("pairs", |p| {
                p.pair(edit.key.as_str(), ScalarValue::string(&edit.value))
            })
            .build_document();
        self.push_item("labels", &entry)
    }

    /// Set `KEY=VALUE` in the literals of the generator named so.
    fn set_literal(&self, edit: &LiteralEdit) -> Result<(), KustomizeError> {
        let mut found = Vec::new();
        for list in ["configMapGenerator", "secretGenerator"] {
            if let Some(seq) = sequence_at(&self.root, list)?
                && let Some((_, m)) = find_by_name(&seq, list, &edit.generator)?
            {
                found.push(m);
            }
        }
        let generator = match found.len() {
            0 => return Err(KustomizeError::NoSuchGenerator(edit.generator.clone())),
            1 => found.remove(0),
            _ => return Err(KustomizeError::AmbiguousGenerator(edit.generator.clone())),
        };
        let literal = format!("{}={}", edit.key, edit.value);
        let Some(literals) = sequence_at(&generator, "literals")? else {
            let seq = self.new_sequence(
                "literals",
                SequenceBuilder::new().item(ScalarValue::string(&literal)),
            )?;
            generator.set_with_field_order(
                "literals",
                seq,
                ["name", "namespace", "behavior", "files", "literals", "envs"],
            );
            return Ok(());
        };
        for (i, item) in literals.values().enumerate() {
            let Some(s) = item.as_scalar() else {
                continue;
            };
            let text = s.as_string();
            let key = text.split_once('=').map_or(text.as_str(), |(k, _)| k);
            if key.trim() == edit.key {
                if text != literal {
                    literals.set(i, ScalarValue::with_style(&literal, style_of(&item)));
                }
                return Ok(());
            }
        }
        literals.push(ScalarValue::string(&literal));
        Ok(())
    }

    /// Set `source.<field>` of every replacement whose source is named so.
    fn set_replacement_source(&self, edit: &ReplacementSourceEdit) -> Result<(), KustomizeError> {
        let mut hit = false;
        if let Some(seq) = sequence_at(&self.root, "replacements")? {
            for (i, item) in seq.values().enumerate() {
                let m = item.as_mapping().ok_or_else(|| KustomizeError::Shape {
                    key: format!("replacements[{i}]"),
                    expected: "a mapping",
                })?;
                let Some(source) = mapping_at(m, "source", "replacements[].source")? else {
                    continue; // a `path:` entry: its source is in another file
                };
                if scalar_at(&source, "name").as_deref() == Some(edit.source.as_str()) {
                    set_scalar(
                        &source,
                        &edit.field,
                        &edit.value,
                        Some(&["group", "version", "kind", "name", "namespace", "fieldPath"]),
                    );
                    hit = true;
                }
            }
        }
        if hit {
            Ok(())
        } else {
            Err(KustomizeError::NoSuchReplacementSource(edit.source.clone()))
        }
    }

    /// Append `item` (a one-mapping document) to the sequence `key`,
    /// creating the key when absent.
    fn push_item(&self, key: &str, item: &Document) -> Result<(), KustomizeError> {
        let item = item.as_mapping().ok_or(KustomizeError::NotAMapping)?;
        match sequence_at(&self.root, key)? {
            Some(seq) => seq.push(item),
            None => {
                let seq = self.new_sequence(key, SequenceBuilder::new().item(item))?;
                self.root
                    .set_with_field_order(key, seq, FIELD_ORDER.iter().copied());
            }
        }
        Ok(())
    }

    /// A new block sequence for `key`, indented as the file's are.
    fn new_sequence(&self, key: &str, seq: SequenceBuilder) -> Result<Sequence, KustomizeError> {
        let level = seq.build_document();
        if !self.indented_sequences {
            return level.as_sequence().ok_or(KustomizeError::NotAMapping);
        }
        // yaml-edit keeps the layout of a node taken from parsed text, so
        // the level-style output is shifted right and read back under its key.
        let mut text = format!("{key}:\n");
        for line in level.to_string().lines() {
            text.push_str("  ");
            text.push_str(line);
            text.push('\n');
        }
        Document::from_str(&text)
            .ok()
            .and_then(|d| d.as_mapping().and_then(|m| m.get_sequence(key)))
            .ok_or(KustomizeError::NotAMapping)
    }
}

impl fmt::Display for Kustomization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)
    }
}

/// When `after` is `before` with lines inserted that start with a
/// top-level key, and the lines right after them are comments that trail
/// the content before them, `after` with the inserted lines moved past
/// those comments. Comments trail the content above them when no blank
/// line separates them from it, and either a blank line (or the end)
/// follows them or they are commented-out list entries (`# - x`); a
/// comment directly above the next key is that key's and stays with it.
fn move_past_trailing_comments(before: &str, after: &str) -> Option<String> {
    let old: Vec<&str> = before.split_inclusive('\n').collect();
    let new: Vec<&str> = after.split_inclusive('\n').collect();
    let prefix = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
    let max_suffix = old.len().min(new.len()) - prefix;
    let suffix = old
        .iter()
        .rev()
        .zip(new.iter().rev())
        .take(max_suffix)
        .take_while(|(a, b)| a == b)
        .count();
    if prefix + suffix != old.len() || new.len() <= old.len() || prefix == 0 {
        return None;
    }
    let inserted = &new[prefix..new.len() - suffix];
    let is_blank = |l: &str| l.trim().is_empty();
    let is_comment = |l: &str| l.trim_start().starts_with('#');
    let top_level = |l: &str| !l.starts_with([' ', '\t', '-', '#']) && !is_blank(l);
    if !top_level(inserted[0]) || is_blank(new[prefix - 1]) || is_comment(new[prefix - 1]) {
        return None;
    }
    let rest = &new[new.len() - suffix..];
    let comments = rest.iter().take_while(|l| is_comment(l)).count();
    if comments == 0 {
        return None;
    }
    let ends_block = rest
        .get(comments)
        .is_none_or(|l| is_blank(l) || l.starts_with("---") || l.starts_with("..."));
    let trailing = if ends_block {
        comments
    } else {
        rest[..comments]
            .iter()
            .take_while(|l| {
                let text = l.trim_start().trim_start_matches('#').trim_start();
                text.starts_with("- ") || text == "-" || l.starts_with([' ', '\t'])
            })
            .count()
    };
    if trailing == 0 {
        return None;
    }
    let mut out = String::with_capacity(after.len());
    new[..prefix].iter().for_each(|l| out.push_str(l));
    let mut moved_comments: String = rest[..trailing].concat();
    if !moved_comments.ends_with('\n') {
        // The comments ended the file without a line break; the inserted
        // lines now come after them.
        let eol = if after.contains("\r\n") { "\r\n" } else { "\n" };
        moved_comments.push_str(eol);
    }
    out.push_str(&moved_comments);
    let mut block: String = inserted.concat();
    if trailing == rest.len() && !before.ends_with('\n') {
        block.truncate(block.trim_end_matches(['\r', '\n']).len());
    }
    out.push_str(&block);
    rest[trailing..].iter().for_each(|l| out.push_str(l));
    Some(out)
}

/// Whether the first block sequence under a top-level key is indented.
fn indented_sequences(text: &str) -> bool {
    let mut lines = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    while let Some(line) = lines.next() {
        let top_level_key = !line.starts_with([' ', '\t', '-', '#'])
            && line
                .split(" #")
                .next()
                .is_some_and(|l| l.trim_end().ends_with(':'));
        if top_level_key
            && let Some(next) = lines.next()
            && next.trim_start().starts_with("- ")
        {
            return next.starts_with(' ');
        }
    }
    false
}

/// The string value of `key` in `m`, when it is a scalar.
fn scalar_at(m: &Mapping, key: &str) -> Option<String> {
    m.get(key)
        .and_then(|n| n.as_scalar().map(|s| s.as_string()))
}

/// The sequence under `key`: `None` when absent or null, an error when it
/// is something else.
fn sequence_at(m: &Mapping, key: &str) -> Result<Option<Sequence>, KustomizeError> {
    match m.get(key) {
        None => Ok(None),
        Some(n) if is_null(&n) => Ok(None),
        Some(n) => n
            .as_sequence()
            .cloned()
            .map(Some)
            .ok_or_else(|| KustomizeError::Shape {
                key: key.to_string(),
                expected: "a list",
            }),
    }
}

/// The mapping under `key`, like [`sequence_at`].
fn mapping_at(m: &Mapping, key: &str, path: &str) -> Result<Option<Mapping>, KustomizeError> {
    match m.get(key) {
        None => Ok(None),
        Some(n) if is_null(&n) => Ok(None),
        Some(n) => n
            .as_mapping()
            .cloned()
            .map(Some)
            .ok_or_else(|| KustomizeError::Shape {
                key: path.to_string(),
                expected: "a mapping",
            }),
    }
}

fn is_null(n: &YamlNode) -> bool {
    n.as_scalar().is_some_and(|s| {
        let raw = s.value();
        let raw = raw.trim();
        raw.is_empty() || raw == "~" || raw == "null"
    })
}

/// The entry of `seq` whose `name` is `name`.
fn find_by_name(
    seq: &Sequence,
    list: &str,
    name: &str,
) -> Result<Option<(usize, Mapping)>, KustomizeError> {
    for (i, item) in seq.values().enumerate() {
        let m = item.as_mapping().ok_or_else(|| KustomizeError::Shape {
            key: format!("{list}[{i}]"),
            expected: "a mapping",
        })?;
        if scalar_at(m, "name").as_deref() == Some(name) {
            return Ok(Some((i, m.clone())));
        }
    }
    Ok(None)
}

/// The quoting of a scalar node, for writing its replacement the same way.
fn style_of(node: &YamlNode) -> ScalarStyle {
    match node.as_scalar().map(|s| s.value()) {
        Some(raw) if raw.starts_with('"') => ScalarStyle::DoubleQuoted,
        Some(raw) if raw.starts_with('\'') => ScalarStyle::SingleQuoted,
        _ => ScalarStyle::Plain,
    }
}

/// Set `key` to the string `value`, keeping the old value's quoting and
/// leaving the file untouched when it already holds that value. A new key
/// goes where `order` puts it, else at the end.
fn set_scalar(m: &Mapping, key: &str, value: &str, order: Option<&[&str]>) {
    match m.get(key) {
        Some(old) => {
            if old.as_scalar().is_some_and(|s| s.as_string() == value) && !is_null(&old) {
                return;
            }
            // A plain scalar that YAML would read as another type (a tag
            // `1.20`, `true`) is quoted by yaml-edit on the way out.
            m.set(key, ScalarValue::with_style(value, style_of(&old)));
        }
        None => match order {
            Some(order) => {
                m.set_with_field_order(key, ScalarValue::string(value), order.iter().copied())
            }
            None => m.set(key, ScalarValue::string(value)),
        },
    }
}
